// A 2-node replicated cluster built for fault injection (issue 14): etcd and each node run in a
// network namespace of their own (test/helpers/netns.ts: partitions one direction at a time),
// each node's data directory (backing file, metadata, bitmaps, live configuration) is a
// power-loss file system (test/helpers/powerloss.ts: a cut drops what was never flushed), and
// its log lives outside it (a power cut must not eat the evidence). deploy/local/cluster cannot
// do either: it binds every process to 127.0.0.1 and puts the data on the host's disk.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { type LogLine, REPO_ROOT, TANDEMD, TANDEMD_NODE_FLAGS } from '../helpers/daemon.js';
import { createTestNet, type TestNet } from '../helpers/netns.js';
import { mountPowerLoss, type PowerLossMount } from '../helpers/powerloss.js';

export const TARGET = 'iqn.2026-11.org.tandem:chaos';
export const VOLUME = 'vol0';
const PORTAL_PORT = 3260;
const GRPC_PORT = 7000;
const ADMIN_PORT = 7100;

export interface ChaosClusterOptions {
  /** Lease TTL in seconds. */
  ttl: number;
  /** Volume size, e.g. '64M'. */
  size: string;
  names?: string[];
  readyTimeoutMs?: number;
}

/** One tandemd process's life: what the two-writer check splits the logs by. */
export interface ProcessLife {
  node: string;
  pid: number;
  /** Wall clock (ms), as the logs' `time`. */
  started: number;
  ended?: number;
  /** Wall-clock [from, to) intervals it was SIGSTOPped. */
  frozen: Array<[number, number]>;
}

interface NodeState {
  name: string;
  host: string;
  config: string;
  log: string;
  mount: PowerLossMount;
  child?: ChildProcess;
  life?: ProcessLife;
}

const live = new Set<ChaosCluster>();
process.on('exit', () => {
  for (const c of live) c.killNow();
});

function readLog(file: string, from = 0): LogLine[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').slice(from);
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

export class ChaosCluster {
  readonly dir: string;
  /** `tandemctl --tls-dir` for this cluster's admin API (ca.crt, admin.crt, admin.key). */
  get tlsDir(): string {
    return path.join(this.dir, 'tls');
  }
  readonly net: TestNet;
  readonly ttl: number;
  readonly lives: ProcessLife[] = [];
  readonly #nodes: NodeState[];
  readonly #readyMs: number;
  #etcd?: ChildProcess;

  private constructor(dir: string, net: TestNet, nodes: NodeState[], o: ChaosClusterOptions) {
    this.dir = dir;
    this.net = net;
    this.#nodes = nodes;
    this.ttl = o.ttl;
    this.#readyMs = o.readyTimeoutMs ?? 60_000;
  }

  static async start(o: ChaosClusterOptions): Promise<ChaosCluster> {
    const names = o.names ?? ['a', 'b'];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-chaos-'));
    const net = createTestNet(['etcd', ...names]);
    const nodes: NodeState[] = [];
    const c = new ChaosCluster(dir, net, nodes, o);
    live.add(c);
    try {
      const { initCaDir, issueClientFiles, issueNodeFiles } = (await import(
        path.join(REPO_ROOT, 'dist/src/security/cert-files.js')
      )) as typeof import('../../src/security/cert-files.js');
      const tls = path.join(dir, 'tls');
      await initCaDir(tls, 'Tandem chaos CA');
      // tandemctl's credential (the admin API is mutual TLS too): `--tls-dir <dir>/tls`.
      await issueClientFiles(tls, 'admin', 'admin');
      for (const name of names) {
        const host = net.address[name]!;
        await issueNodeFiles(tls, name, { ip: [host], dns: ['localhost'] });
        const mount = await mountPowerLoss();
        fs.mkdirSync(path.join(dir, name));
        const node: NodeState = {
          name,
          host,
          config: path.join(dir, name, 'node.yaml'),
          log: path.join(dir, name, 'tandemd.log'),
          mount,
        };
        fs.writeFileSync(node.config, YAML.stringify(c.#nodeConfig(node, tls, o)));
        nodes.push(node);
      }
      await c.startEtcd();
      // The first node first: it creates the dataset and is the first primary.
      await c.start(names[0]!);
      await Promise.all(names.slice(1).map((n) => c.start(n)));
      return c;
    } catch (err) {
      await c.destroy();
      throw err;
    }
  }

  #nodeConfig(n: NodeState, tls: string, o: ChaosClusterOptions): unknown {
    return {
      node: { name: n.name, dataDir: n.mount.dir },
      portals: [`${n.host}:${PORTAL_PORT}`],
      cluster: {
        etcd: [this.etcdEndpoint],
        prefix: '/tandem/chaos',
        leaseTtlSeconds: o.ttl,
        grpc: `${n.host}:${GRPC_PORT}`,
      },
      tls: {
        ca: path.join(tls, 'ca.crt'),
        cert: path.join(tls, `${n.name}.crt`),
        key: path.join(tls, `${n.name}.key`),
      },
      admin: { listen: `${n.host}:${ADMIN_PORT}` },
      bootstrap: {
        targets: [{ iqn: TARGET, alias: 'chaos' }],
        volumes: [{ id: VOLUME, kind: 'replicated', size: o.size, blockSize: 512 }],
        luns: [{ target: TARGET, lun: 0, volume: VOLUME }],
      },
    };
  }

  get etcdEndpoint(): string {
    return `http://${this.net.address.etcd}:2379`;
  }
  get names(): string[] {
    return this.#nodes.map((n) => n.name);
  }
  #node(name: string): NodeState {
    const n = this.#nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }
  running(name: string): boolean {
    const c = this.#node(name).child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }
  /** What leadership() and the multipath client read: name, portal, admin, logs. */
  get nodes() {
    return this.#nodes.map((n) => ({
      name: n.name,
      host: n.host,
      port: PORTAL_PORT,
      admin: `${n.host}:${ADMIN_PORT}`,
      logs: () => readLog(n.log),
    }));
  }
  paths(): Array<{ name: string; host: string; port: number }> {
    return this.#nodes.map((n) => ({ name: n.name, host: n.host, port: PORTAL_PORT }));
  }
  admin(name: string): string {
    return `${this.#node(name).host}:${ADMIN_PORT}`;
  }
  mount(name: string): PowerLossMount {
    return this.#node(name).mount;
  }
  logFile(name: string): string {
    return this.#node(name).log;
  }

  async startEtcd(): Promise<void> {
    const data = path.join(this.dir, 'etcd');
    const log = fs.openSync(path.join(this.dir, 'etcd.log'), 'a');
    const peer = `http://${this.net.address.etcd}:2380`;
    const [cmd, args] = this.net.wrap('etcd', '/usr/bin/etcd', [
      ...['--name', 'chaos', '--data-dir', data],
      ...['--listen-client-urls', this.etcdEndpoint, '--advertise-client-urls', this.etcdEndpoint],
      ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
      ...['--initial-cluster', `chaos=${peer}`, '--logger', 'zap', '--log-outputs', 'stderr'],
    ]);
    this.#etcd = spawn(cmd, args, { detached: true, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const res = await fetch(`${this.etcdEndpoint}/health`, { signal: AbortSignal.timeout(1000) });
        if (((await res.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not yet
      }
      if (this.#etcd.exitCode !== null) throw new Error(`etcd exited; see ${this.dir}/etcd.log`);
      if (Date.now() > deadline) throw new Error(`etcd not healthy after 30 s; see ${this.dir}/etcd.log`);
      await sleep(100);
    }
  }

  async killEtcd(): Promise<void> {
    const e = this.#etcd;
    if (!e) return;
    e.kill('SIGCONT');
    e.kill('SIGKILL');
    await exited(e);
    this.#etcd = undefined;
  }

  /** Starts a node (its data directory must be mounted) and waits for its ready line. */
  async start(name: string): Promise<void> {
    const n = this.#node(name);
    if (this.running(name)) throw new Error(`node ${name} is running`);
    const from = fs.existsSync(n.log) ? fs.statSync(n.log).size : 0;
    const fd = fs.openSync(n.log, 'a');
    const [cmd, args] = this.net.wrap(name, process.execPath, [
      ...TANDEMD_NODE_FLAGS,
      TANDEMD,
      '--config',
      n.config,
    ]);
    const child = spawn(cmd, args, { cwd: REPO_ROOT, detached: true, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    n.child = child;
    const life: ProcessLife = { node: name, pid: child.pid!, started: Date.now(), frozen: [] };
    n.life = life;
    this.lives.push(life);
    child.once('exit', () => {
      life.ended ??= Date.now();
    });
    const deadline = Date.now() + this.#readyMs;
    for (;;) {
      const text = fs.readFileSync(n.log, 'utf8').slice(from);
      if (text.includes('"event":"ready"')) return;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `node ${name} exited before it was ready:\n${text.split('\n').slice(-15).join('\n')}`,
        );
      if (Date.now() > deadline)
        throw new Error(`node ${name} not ready after ${this.#readyMs} ms (log ${n.log})`);
      await sleep(50);
    }
  }

  /** SIGKILL; resolves once the process is gone (its page cache, the FUSE daemon's, survives). */
  async kill(name: string): Promise<void> {
    const n = this.#node(name);
    const child = n.child;
    if (!child) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    if (n.life) n.life.ended ??= Date.now();
    await exited(child);
    n.child = undefined;
  }

  freeze(name: string): void {
    const n = this.#node(name);
    n.child?.kill('SIGSTOP');
    n.life?.frozen.push([Date.now(), Number.POSITIVE_INFINITY]);
  }

  thaw(name: string): void {
    const n = this.#node(name);
    n.child?.kill('SIGCONT');
    const f = n.life?.frozen.at(-1);
    if (f && !Number.isFinite(f[1])) f[1] = Date.now();
  }

  /**
   * A power cut of the named nodes at once: their processes die and every page their file
   * systems never flushed is lost (or, `random`, a random share of them: a disk that reorders
   * its cache). The file systems are mounted again; the nodes are not restarted. Returns, per
   * node, how many unflushed pages the cut lost.
   */
  async powerCut(names: string[], random?: { seed: number; pct: number }): Promise<Record<string, number>> {
    await Promise.all(names.map((n) => this.kill(n)));
    const lost: Record<string, number> = {};
    for (const name of names) {
      const m = this.#node(name).mount;
      const before = m.stats().droppedPages;
      m.cut(random);
      // The counters live in the file system's process: read them before the remount.
      lost[name] = m.stats().droppedPages - before;
      await m.remount();
    }
    return lost;
  }

  /** SIGKILL everything now (process exit). */
  killNow(): void {
    for (const n of this.#nodes) {
      n.child?.kill('SIGCONT');
      n.child?.kill('SIGKILL');
    }
    this.#etcd?.kill('SIGCONT');
    this.#etcd?.kill('SIGKILL');
    this.net.destroy();
  }

  async destroy(): Promise<void> {
    live.delete(this);
    await Promise.all(this.#nodes.map((n) => this.kill(n.name)));
    await this.killEtcd();
    for (const n of this.#nodes) await n.mount.unmount();
    this.net.destroy();
    if (process.env.TANDEM_KEEP_TMP) console.log(`chaos cluster kept in ${this.dir}`);
    else fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
