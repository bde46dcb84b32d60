// Starts local clusters for tests through deploy/local/cluster (the script users run), each in a
// temp dir: a private etcd and N tandemd nodes. Every cluster started here is brought down and
// its dir removed in the test file's afterAll (TANDEM_KEEP_TMP=1 keeps the dir and its logs),
// and its processes are SIGKILLed if the test process exits first.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { type LogLine, REPO_ROOT, TANDEMD } from './daemon.js';
import type { EtcdCredentials } from './etcd.js';
import { MultipathClient, type PathState } from './multipath.js';
import { explain, type RunResult, run } from './tools.js';

export const CLUSTER_SCRIPT = path.join(REPO_ROOT, 'deploy/local/cluster');

/** One node as DIR/cluster.json lists it. */
export interface ClusterNodeInfo {
  name: string;
  /** HOST:PORT of its iSCSI portal. */
  portal: string;
  url: string;
  grpc: string | null;
  /** HOST:PORT of its admin API (tandemctl --endpoint); null when the node did not report one. */
  admin: string | null;
  pid: number;
  config: string;
  log: string;
}

/** DIR/cluster.json. */
export interface ClusterInfo {
  dir: string;
  etcd: string[];
  etcdPid: number;
  etcdDataDir: string;
  etcdLog: string;
  /** PEM files of a client certificate etcd accepts (absent: a plaintext --insecure cluster). */
  etcdTls?: { ca: string; cert: string; key: string };
  insecure?: boolean;
  prefix: string;
  ttl: number;
  standby: boolean;
  sharedImage: string;
  target: string;
  nodes: ClusterNodeInfo[];
  luns: Array<{ lun: number; volume: string; kind: string; size: string }>;
}

export interface ClusterOptions {
  nodes: number;
  kind?: 'shared' | 'replicated';
  size?: string;
  standby?: boolean;
  /** Lease TTL in seconds (default 5). */
  ttl?: number;
  portalBase?: number;
  /** Per-process readiness limit in seconds (default 30). */
  timeoutS?: number;
  logLevel?: string;
}

export interface ClusterNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** HOST:PORT of its admin API (tandemctl --endpoint), or null. */
  readonly admin: string | null;
  /** iscsi://HOST:PORT/TARGET/LUN */
  url(lun?: number): string;
  /** iscsi://HOST:PORT */
  portalUrl(): string;
  /** The node's JSON log lines so far (DIR/<name>/tandemd.log, across restarts). */
  logs(): LogLine[];
}

const live = new Map<string, ClusterInfo>();
let exitHookInstalled = false;

function killAllNow(): void {
  for (const info of live.values()) {
    for (const n of info.nodes) signal(n.pid, 'SIGKILL');
    signal(info.etcdPid, 'SIGCONT');
    signal(info.etcdPid, 'SIGKILL');
  }
}

// The clusters' processes are detached (the script starts them in their own sessions), so they
// would outlive this process: kill them on exit, and on the signals that end it without 'exit'
// (then let the signal do what it would have done).
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllNow();
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    // Only a process this cluster started (PID reuse): its command line names the cluster dir.
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('/tandem-cluster-')) return;
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** Brings every cluster started here down and removes its dir (unless TANDEM_KEEP_TMP). */
export async function stopAllClusters(): Promise<void> {
  await Promise.all(
    [...live.values()].map(async (info) => {
      const r = await run(CLUSTER_SCRIPT, ['down', '--dir', info.dir, '--timeout', '5'], {
        timeoutMs: 30_000,
      });
      if (r.code !== 0) {
        for (const n of info.nodes) signal(n.pid, 'SIGKILL');
        signal(info.etcdPid, 'SIGCONT');
        signal(info.etcdPid, 'SIGKILL');
      }
      live.delete(info.dir);
      if (!process.env.TANDEM_KEEP_TMP) await rm(info.dir, { recursive: true, force: true });
      else console.log(`cluster kept in ${info.dir}`);
    }),
  );
}

afterAll(stopAllClusters, 60_000);

function parseLog(file: string): LogLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // a partial last line
    }
  }
  return out;
}

export class Cluster {
  #info: ClusterInfo;

  constructor(readonly dir: string) {
    this.#info = Cluster.read(dir);
  }

  static read(dir: string): ClusterInfo {
    return JSON.parse(readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as ClusterInfo;
  }

  get info(): ClusterInfo {
    return this.#info;
  }
  get target(): string {
    return this.#info.target;
  }
  get ttlSeconds(): number {
    return this.#info.ttl;
  }
  get etcdEndpoint(): string {
    return this.#info.etcd[0]!;
  }
  /** What `new Etcd3(...)` needs to reach this cluster's etcd (client TLS). */
  etcdOptions(): { hosts: string[]; credentials?: EtcdCredentials } {
    const t = this.#info.etcdTls;
    return {
      hosts: [...this.#info.etcd],
      ...(t
        ? {
            credentials: {
              rootCertificate: readFileSync(t.ca),
              certChain: readFileSync(t.cert),
              privateKey: readFileSync(t.key),
            },
          }
        : {}),
    };
  }
  get names(): string[] {
    return this.#info.nodes.map((n) => n.name);
  }
  get nodes(): ClusterNode[] {
    return this.names.map((n) => this.node(n));
  }

  node(name: string): ClusterNode {
    const n = this.#info.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in ${this.dir} (have ${this.names.join(', ')})`);
    const i = n.portal.lastIndexOf(':');
    const host = n.portal.slice(0, i);
    const port = Number(n.portal.slice(i + 1));
    const target = this.target;
    return {
      name,
      host,
      port,
      pid: n.pid,
      admin: n.admin ?? null,
      url: (lun = 0) => `iscsi://${n.portal}/${target}/${lun}`,
      portalUrl: () => `iscsi://${n.portal}`,
      logs: () => parseLog(n.log),
    };
  }

  /** Per node: iscsi://HOST:PORT/TARGET/LUN, in node order. */
  urls(lun = 0): string[] {
    return this.nodes.map((n) => n.url(lun));
  }

  /** Runs the script on this cluster's dir; throws with its output unless it exits 0. */
  async script(args: string[], timeoutMs = 90_000): Promise<string> {
    const r = await run(CLUSTER_SCRIPT, [...args, '--dir', this.dir], { timeoutMs });
    if (r.code !== 0) throw new Error(`cluster ${args[0]} failed:\n${explain(r)}`);
    this.#info = Cluster.read(this.dir);
    live.set(this.dir, this.#info);
    return r.stdout;
  }

  /** SIGKILL one node; resolves when it is gone. */
  kill(name: string): Promise<string> {
    return this.script(['kill', name]);
  }
  /** Starts a stopped node again (same config and portal) and waits for its ready line. */
  start(name: string): Promise<string> {
    return this.script(['start', name]);
  }
  /**
   * SIGSTOP etcd, sent from here rather than through `cluster stop-etcd` (which does the same)
   * so that the returned time (performance.now()) is within a millisecond of the signal.
   */
  stopEtcd(): number {
    return this.#signalEtcd('SIGSTOP');
  }
  /** SIGCONT etcd (see stopEtcd); returns when it was sent. */
  contEtcd(): number {
    return this.#signalEtcd('SIGCONT');
  }
  #signalEtcd(sig: NodeJS.Signals): number {
    const pid = this.#info.etcdPid;
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.#info.etcdDataDir))
      throw new Error(`etcd (pid ${pid}) is not running`);
    process.kill(pid, sig);
    return performance.now();
  }
  /** Stops every node and etcd (the dir, etcd's data included, stays for up()). */
  down(): Promise<string> {
    return this.script(['down', '--timeout', '10']);
  }
  /** Starts everything again on the same dir (etcd's data persists). */
  up(opts: ClusterOptions): Promise<string> {
    return this.script(['up', ...upArgs(opts)]);
  }
  /** Brings the cluster down and removes its dir now rather than in afterAll. */
  async destroy(): Promise<void> {
    await this.script(['down', '--timeout', '5']);
    live.delete(this.dir);
    if (!process.env.TANDEM_KEEP_TMP) await rm(this.dir, { recursive: true, force: true });
  }

  /** The multipath client's paths: one per node, named after it. */
  paths(): Array<{ name: string; host: string; port: number }> {
    return this.nodes.map((n) => ({ name: n.name, host: n.host, port: n.port }));
  }

  /** `status --json`: which processes run. */
  async status(): Promise<{ etcd: string; nodes: Record<string, string> }> {
    const r = await run(CLUSTER_SCRIPT, ['status', '--json', '--dir', this.dir], { timeoutMs: 30_000 });
    return (JSON.parse(r.stdout) as { alive: { etcd: string; nodes: Record<string, string> } }).alive;
  }
}

function upArgs(o: ClusterOptions): string[] {
  return [
    '--nodes',
    String(o.nodes),
    ...(o.kind ? ['--kind', o.kind] : []),
    ...(o.size ? ['--size', o.size] : []),
    ...(o.standby ? ['--standby'] : []),
    ...(o.ttl !== undefined ? ['--ttl', String(o.ttl)] : []),
    ...(o.portalBase !== undefined ? ['--portal-base', String(o.portalBase)] : []),
    ...(o.timeoutS !== undefined ? ['--timeout', String(o.timeoutS)] : []),
    ...(o.logLevel ? ['--log-level', o.logLevel] : []),
  ];
}

/** `cluster up` in a new temp dir; the cluster is brought down and the dir removed in afterAll. */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  installExitHook();
  // The dir name is what signal() checks in /proc/PID/cmdline before killing anything.
  const dir = await mkdtemp(path.join(tmpdir(), 'tandem-cluster-'));
  const r = await run(CLUSTER_SCRIPT, ['up', '--dir', dir, ...upArgs(opts)], {
    timeoutMs: ((opts.timeoutS ?? 30) * (opts.nodes + 1) + 30) * 1000,
    env: { TANDEM_TANDEMD: process.env.TANDEM_TANDEMD ?? TANDEMD },
  });
  let info: ClusterInfo | undefined;
  try {
    info = Cluster.read(dir);
  } catch {
    // up failed before writing it
  }
  if (info) live.set(dir, info);
  else if (!process.env.TANDEM_KEEP_TMP) await rm(dir, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`cluster up failed (dir ${dir}):\n${explain(r)}`);
  return new Cluster(dir);
}

export interface Leadership {
  node: string;
  /** Wall-clock ms (the logs' `time`). */
  from: number;
  to: number;
  end: string;
}

/**
 * Who was primary of `volume` when, from the nodes' own logs: from `election: … -> LEADER` to
 * `election: LEADER -> …` (or the end of the log).
 */
export function leadership(cluster: Cluster, volume: string): Leadership[] {
  const out: Leadership[] = [];
  for (const n of cluster.nodes) {
    let start: number | undefined;
    for (const l of n.logs()) {
      if (typeof l.msg !== 'string' || !l.msg.startsWith('election:') || l.volume !== volume) continue;
      if (l.to === 'leader') start = l.time;
      else if (l.from === 'leader' && start !== undefined) {
        out.push({ node: n.name, from: start, to: l.time, end: `${l.to} (${String(l.reason ?? '')})` });
        start = undefined;
      }
    }
    if (start !== undefined)
      out.push({ node: n.name, from: start, to: Number.POSITIVE_INFINITY, end: 'still leader' });
  }
  return out.sort((x, y) => x.from - y.from);
}

export const TANDEMCTL = path.join(REPO_ROOT, 'dist/cmd/tandemctl.js');

/**
 * tandemctl's credential options for a node's admin endpoint: the admin client certificate in
 * DIR/tls of the live cluster whose node has that admin address (`cluster env` prints the same
 * files); none when the endpoint belongs to no cluster started here.
 */
export function adminCredentialArgs(endpoint: string): string[] {
  const infos = [...live.values()];
  const owner =
    infos.find((i) => i.nodes.some((n) => n.admin === endpoint)) ??
    (infos.length === 1 ? infos[0] : undefined);
  return owner ? ['--tls-dir', path.join(owner.dir, 'tls')] : [];
}

/** Runs the built tandemctl against a node's admin endpoint, with the cluster's admin credentials. */
export function tandemctl(endpoint: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run(
    process.execPath,
    [TANDEMCTL, '--endpoint', endpoint, ...adminCredentialArgs(endpoint), ...args],
    {
      timeoutMs,
    },
  );
}

/**
 * Waits until every path of `mp` is Active/Optimized or Active/Non-optimized (a replicated
 * volume's peer joins out of sync and is resynced first); returns the A/O path's name. With
 * `cluster`, a timeout names each node's last replication and ALUA log lines, so a failure on a
 * loaded CI machine says where the join stopped.
 */
export async function waitAllUsable(
  mp: MultipathClient,
  timeoutMs = 30_000,
  cluster?: Pick<Cluster, 'nodes'>,
): Promise<string> {
  const usable = () =>
    mp.paths.every((p) => p.state === 'active-optimized' || p.state === 'active-non-optimized');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await mp.refresh();
    if (usable()) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const primary = mp.paths.find((x) => x.state === 'active-optimized');
  if (!primary || !usable())
    throw new Error(
      `paths not all usable after ${timeoutMs} ms: ${mp.describeStates()}${cluster ? `\n${recentJoinLogs(cluster)}` : ''}`,
    );
  return primary.name;
}

function recentJoinLogs(cluster: Pick<Cluster, 'nodes'>): string {
  return cluster.nodes
    .map((n) => {
      const lines = n
        .logs()
        .filter((l) => typeof l.component === 'string' && /replication|alua/.test(l.component))
        .slice(-8)
        .map((l) => {
          const { level, time, pid, hostname, mode, ...rest } = l;
          return `  ${JSON.stringify(rest)}`;
        });
      return `${n.name}:\n${lines.join('\n')}`;
    })
    .join('\n');
}

/**
 * Calls `probe` every `stepMs` until it returns something other than undefined, and returns
 * that; throws after `ms` naming `what`.
 */
export async function pollFor<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined> | T | undefined,
  stepMs = 200,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Polls the ALUA states (REPORT TARGET PORT GROUPS) until `node`'s path of `mp` is in `state`. */
export function waitPathState(
  mp: MultipathClient,
  node: string,
  state: PathState,
  what: string,
  ms: number,
  stepMs = 200,
): Promise<true> {
  return pollFor(
    what,
    ms,
    async () => {
      await mp.refresh();
      return mp.state(node) === state ? true : undefined;
    },
    stepMs,
  );
}

/**
 * A 2-node replicated volume ready for a test: every path usable, then the peer's path
 * Active/Non-optimized (its first resync done); the primary and the peer.
 */
export async function waitPrimaryAndPeer(
  cluster: Cluster,
  mp: MultipathClient,
  ms = 60_000,
  stepMs = 200,
): Promise<{ primary: string; peer: string }> {
  const primary = await waitAllUsable(mp, ms);
  const peer = cluster.names.find((n) => n !== primary)!;
  await waitPathState(mp, peer, 'active-non-optimized', 'the peer in sync', ms, stepMs);
  return { primary, peer };
}

/** A 3-node cluster whose vol0 is a three-way replicated volume, with a multipath client on all three paths. */
export async function startThreeWay(opts: {
  size: string;
  initiatorName: string;
  retryWindowMs: number;
  ttl?: number;
}): Promise<{ cluster: Cluster; mp: MultipathClient }> {
  if (!existsSync(TANDEMCTL)) throw new Error(`${TANDEMCTL} not found: run \`npm run build\` first`);
  const cluster = await startCluster({ nodes: 3, kind: 'replicated', size: opts.size, ttl: opts.ttl ?? 3 });
  const mp = await MultipathClient.connect({
    paths: cluster.paths(),
    target: cluster.target,
    initiatorName: opts.initiatorName,
    commandTimeoutMs: 3000,
    retryWindowMs: opts.retryWindowMs,
  });
  return { cluster, mp };
}

/**
 * Waits until every path is usable and all three replicas of `volume` are in the in-sync set
 * (`tandemctl --json status` through the primary); the primary. A failing status fails the
 * wait at once, or with `tolerateStatusErrors` is polled again.
 */
export async function waitThreeInSync(
  cluster: Cluster,
  mp: MultipathClient,
  opts: { volume?: string; ms?: number; tolerateStatusErrors?: boolean } = {},
): Promise<string> {
  const volume = opts.volume ?? 'vol0';
  const primary = await waitAllUsable(mp);
  await pollFor('three in sync', opts.ms ?? 30_000, async () => {
    const r = await tandemctl(cluster.node(primary).admin!, ['--json', 'status'], 15_000);
    if (r.code !== 0) {
      if (opts.tolerateStatusErrors) return undefined;
      throw new Error(`tandemctl status failed:\n${explain(r)}`);
    }
    const v = (JSON.parse(r.stdout) as { volumes: { id: string; inSync: string[] }[] }).volumes.find(
      (x) => x.id === volume,
    );
    return v && v.inSync.length === 3 ? true : undefined;
  });
  return primary;
}
