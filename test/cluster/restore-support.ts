// Shared by the restore tests (issue 14, finding 4, check 4): the scenario's data, status and
// read-back helpers, and etcd started again by hand on a cluster's ports and data directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, expect } from 'vitest';
import { AdminClient } from '../../src/admin/admin-client.js';
import type { ClusterStatusMsg } from '../../src/admin/admin-proto.js';
import { type Cluster, startCluster, TANDEMCTL, tandemctl } from '../helpers/cluster.js';
import { ETCD_BIN } from '../helpers/etcd.js';
import { explain, qemuIo, type RunResult, requireTools } from '../helpers/tools.js';

export const MiB = 1 << 20;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const VERIFY_FAILED = 'Pattern verification failed';

/** Written with both replicas in sync, then overwritten (NEWER) while b is down. */
export const OLD = { offset: 0, length: MiB, pattern: 0x11 };
export const NEWER = [
  { offset: 0, length: MiB, pattern: 0x5e },
  { offset: 8 * MiB, length: MiB, pattern: 0x7a },
  // Four regions more: the resync of b runs long enough under a low rate limit for status to show it.
  { offset: 16 * MiB, length: 4 * MiB, pattern: 0x3c },
];
/** The resync rate limit (MiB/s) while status is read during b's resync: 1 MiB region per 4 s. */
const SLOW_MIBPS = 0.25;

interface Status {
  volumes: Array<{ id: string; inSync: string[]; primary: string }>;
}

/** What GetStatus says of vol0's recovery and resync, as the tests read it. */
type VolumeMsg = ClusterStatusMsg['volumes'][number];

/**
 * GetStatus of a node over its admin API, with the cluster's admin certificate when it has one
 * (the RPC tandemctl status prints; a client in the test polls faster than a process per call).
 */
function statusClient(cluster: Cluster, node: string): AdminClient {
  const tls = path.join(cluster.dir, 'tls');
  const file = (f: string) => readFileSync(path.join(tls, f));
  return new AdminClient(cluster.node(node).admin!, {
    timeoutMs: 10_000,
    ...(existsSync(path.join(tls, 'admin.crt'))
      ? { tls: { ca: file('ca.crt'), cert: file('admin.crt'), key: file('admin.key') } }
      : {}),
  });
}

async function vol0Of(client: AdminClient): Promise<VolumeMsg | undefined> {
  try {
    return (await client.status()).volumes.find((v) => v.id === 'vol0');
  } catch {
    return undefined;
  }
}

/** `tandemctl status` (text) against `node`; printed, so the run shows what an operator sees. */
async function statusText(cluster: Cluster, node: string, when: string): Promise<string> {
  const r = await tandemctl(cluster.node(node).admin!, ['status'], 20_000);
  expect(r.code, explain(r)).toBe(0);
  console.log(`tandemctl status against ${node}, ${when}:\n${r.stdout}`);
  return r.stdout;
}

export async function status(endpoint: string): Promise<Status | undefined> {
  const r = await tandemctl(endpoint, ['--json', 'status'], 20_000);
  return r.code === 0 ? (JSON.parse(r.stdout) as Status) : undefined;
}

export async function waitFor<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined> | T | undefined,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(250);
  }
}

export const verified = (r: RunResult, p: { offset: number; length: number }, verb: 'wrote' | 'read') =>
  r.code === 0 &&
  !(r.stdout + r.stderr).includes(VERIFY_FAILED) &&
  r.stdout.includes(`${verb} ${p.length}/${p.length} bytes at offset ${p.offset}`);

/** Reads every pattern of `ps` through `url` until they all verify (a failover may be under way). */
export async function readsBack(url: string, ps: typeof NEWER, ms: number): Promise<void> {
  let last: RunResult | undefined;
  await waitFor(`the newer data through ${url}`, ms, async () => {
    for (const p of ps) {
      last = await qemuIo(url, [`read -P ${p.pattern} ${p.offset} ${p.length}`], { timeoutMs: 20_000 });
      if (!verified(last, p, 'read')) return undefined;
    }
    return true;
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n${last ? explain(last) : ''}`);
  });
}

/** What cluster.json says of the cluster's etcd. */
export function etcdInfo(cluster: Cluster): {
  etcdDataDir: string;
  etcdPorts: { client: number; peer: number };
} {
  return JSON.parse(readFileSync(path.join(cluster.dir, 'cluster.json'), 'utf8'));
}

/**
 * etcd again on the cluster's ports and data directory, after `prepare` (with the cluster down)
 * has put there what it starts from: nothing (a new etcd cluster, a new era, as after a loss of
 * etcd and a config import) or a copy taken earlier (a restore). cluster.json names its pid, so
 * the cluster script's start and down treat it as the cluster's etcd.
 */
export async function etcdAt(
  cluster: Cluster,
  prepare: (dataDir: string) => Promise<void>,
): Promise<ChildProcess> {
  const jsonFile = path.join(cluster.dir, 'cluster.json');
  const info = JSON.parse(readFileSync(jsonFile, 'utf8')) as {
    etcdDataDir: string;
    etcdPorts: { client: number; peer: number };
    etcdPid: number;
    etcdTls?: { ca: string; cert: string; key: string };
  };
  await prepare(info.etcdDataDir);
  // The same client TLS as the cluster script's etcd (DIR/tls/etcd: its CA, etcd.crt).
  const tls = info.etcdTls;
  const tlsDir = tls ? path.dirname(tls.ca) : '';
  const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${info.etcdPorts.client}`;
  const peer = `http://127.0.0.1:${info.etcdPorts.peer}`;
  const child = spawn(
    ETCD_BIN,
    [
      ...['--name', 'local', '--data-dir', info.etcdDataDir],
      ...['--listen-client-urls', endpoint, '--advertise-client-urls', endpoint],
      ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
      ...['--initial-cluster', `local=${peer}`, '--log-outputs', 'stderr'],
      ...(tls
        ? [
            ...['--cert-file', path.join(tlsDir, 'etcd.crt'), '--key-file', path.join(tlsDir, 'etcd.key')],
            ...['--trusted-ca-file', tls.ca, '--client-cert-auth'],
          ]
        : []),
    ],
    { stdio: 'ignore' },
  );
  await waitFor('etcd to be healthy', 15_000, async () => {
    const client = new Etcd3(cluster.etcdOptions());
    try {
      await client.get('/health-probe').string();
      return true;
    } catch {
      return undefined;
    } finally {
      client.close();
    }
  });
  info.etcdPid = child.pid!;
  writeFileSync(jsonFile, JSON.stringify(info, null, 2));
  return child;
}

export interface RestoreScenario {
  /** With both replicas in sync and the old pattern written (e.g. an etcd snapshot). */
  readonly inSync?: () => Promise<void>;
  /** Puts etcd's data directory in place while the cluster is down (see etcdAt). */
  readonly prepare: (dataDir: string) => Promise<void>;
  /** After etcd is up again, before any node starts (e.g. the operator's step). */
  readonly etcdUp?: (client: Etcd3) => Promise<void>;
}

/** What a restore test's describe block holds once its beforeAll has run (see restoreFixture). */
export interface RestoreFixture {
  readonly cluster: Cluster;
  /** Plays the restore scenario on the cluster (staleFirstAfterRestore). */
  run(sc: RestoreScenario): Promise<void>;
}

/**
 * Registers a restore test's beforeAll and afterAll in the enclosing describe block: a 2-node
 * replicated cluster; afterwards it is destroyed and the etcd the scenario started is killed.
 */
export function restoreFixture(): RestoreFixture {
  let cluster: Cluster | undefined;
  let etcd: ChildProcess | undefined;
  beforeAll(async () => {
    requireTools('qemu-io');
    if (!existsSync(TANDEMCTL)) throw new Error(`${TANDEMCTL} not found: run \`npm run build\` first`);
    cluster = await startCluster({ nodes: 2, kind: 'replicated', size: '32M', ttl: 3 });
  }, 120_000);
  afterAll(async () => {
    await cluster?.destroy();
    etcd?.kill('SIGKILL');
  }, 60_000);
  const started = (): Cluster => {
    if (!cluster) throw new Error('the restore fixture is read before its beforeAll ran');
    return cluster;
  };
  return {
    get cluster() {
      return started();
    },
    run: (sc) => staleFirstAfterRestore(started(), sc, (e) => (etcd = e)),
  };
}

/**
 * The restore scenario on a started 2-node replicated cluster (see the test files); hands the
 * etcd process it started to `keep`, for the caller to kill after the cluster is down.
 */
async function staleFirstAfterRestore(
  cluster: Cluster,
  sc: RestoreScenario,
  keep: (etcd: ChildProcess) => void,
): Promise<void> {
  const admin = () => cluster.node('a').admin!;
  await waitFor('vol0 in sync on a and b', 60_000, async () => {
    const v = (await status(admin()))?.volumes.find((x) => x.id === 'vol0');
    return v?.primary === 'a' && v.inSync.join() === 'a,b' ? true : undefined;
  });
  const w0 = await qemuIo(cluster.node('a').url(), [`write -P ${OLD.pattern} ${OLD.offset} ${OLD.length}`]);
  expect(verified(w0, OLD, 'wrote'), explain(w0)).toBe(true);
  await sc.inSync?.();

  await cluster.kill('b');
  for (const p of NEWER) {
    const w = await qemuIo(cluster.node('a').url(), [`write -P ${p.pattern} ${p.offset} ${p.length}`], {
      timeoutMs: 60_000,
    });
    expect(verified(w, p, 'wrote'), explain(w)).toBe(true);
  }
  await waitFor('b out of the in-sync set', 30_000, async () => {
    const v = (await status(admin()))?.volumes.find((x) => x.id === 'vol0');
    return v?.inSync.join() === 'a' ? true : undefined;
  });

  await cluster.down();
  const etcd = await etcdAt(cluster, sc.prepare);
  keep(etcd);
  if (sc.etcdUp) {
    const client = new Etcd3(cluster.etcdOptions());
    try {
      await sc.etcdUp(client);
    } finally {
      client.close();
    }
  }

  // The stale copy first: it must wait for a, not found a lineage of its own.
  const bFrom = cluster.node('b').logs().length;
  await cluster.start('b');
  const waiting = await waitFor('b to say it waits for a', 30_000, () =>
    cluster
      .node('b')
      .logs()
      .slice(bFrom)
      .find(
        (l) => typeof l.msg === 'string' && l.msg.startsWith('waiting:') && /waiting for a\b/.test(l.msg),
      ),
  );
  expect(waiting.volume).toBe('vol0');
  await sleep(1500);
  const bLogs = cluster.node('b').logs().slice(bFrom);
  expect(bLogs.some((l) => l.msg === 'replicated volume created: first in-sync replica')).toBe(false);

  // Check 4: the status says so too, not only the log: b's copy waits, and for a.
  const fromB = statusClient(cluster, 'b');
  try {
    const w = await waitFor('status on b: vol0 waits for a', 20_000, async () => {
      const r = (await vol0Of(fromB))?.recovery.find((x) => x.node === 'b');
      return r?.state === 'waiting-for-replicas' ? r : undefined;
    });
    expect(w.missing).toEqual(['a']);
    expect(w.reason).toBe(String(waiting.msg).slice('waiting: '.length));
    const text = await statusText(cluster, 'b', 'b waiting');
    expect(text).toMatch(
      /^vol0 +b +waiting-for-replicas +etcd has no replica set for vol0 and copies here hold data: waiting for a to report what its copy holds \(start it\)$/m,
    );
    // Slow enough that b's resync from a can be seen in status (lifted below).
    const slow = await tandemctl(cluster.node('b').admin!, ['resync', '--rate', String(SLOW_MIBPS)]);
    expect(slow.code, explain(slow)).toBe(0);

    const aFrom = cluster.node('a').logs().length;
    await cluster.start('a');
    await waitFor('a to re-create the replica set from its copy', 30_000, () =>
      cluster
        .node('a')
        .logs()
        .slice(aFrom)
        .find((l) => typeof l.msg === 'string' && l.msg.startsWith('replica set re-created from this copy')),
    );
    // Asked of b, not the primary: a is the source, b is resynced from it, at the primary's rate.
    const during = await waitFor('status on b: b resynced from a, with a rate', 30_000, async () => {
      const v = await vol0Of(fromB);
      const peer = v?.resyncPeers.find((p) => p.node === 'b');
      const mine = v?.recovery.find((x) => x.node === 'b');
      return mine?.state === 'resync-from-newest' && peer && Number(peer.resyncRateBps) > 0 ? v : undefined;
    });
    expect(during.primary).toBe('a');
    expect(during.recovery.map((r) => [r.node, r.state, r.source])).toEqual([
      ['a', 'source', 'a'],
      ['b', 'resync-from-newest', 'a'],
    ]);
    const peer = during.resyncPeers.find((p) => p.node === 'b')!;
    expect(peer.state).toBe('resyncing');
    expect(Number(peer.resyncTotalBytes)).toBeGreaterThan(0);
    expect(Number(peer.resyncEtaSeconds)).toBeGreaterThan(0);
    const resyncing = await statusText(cluster, 'b', 'b resynced from a');
    expect(resyncing).toMatch(
      /^vol0 +b +resync-from-newest +the replica set of vol0 was re-created from a's copy \(the newest data\): this copy is resynced from it$/m,
    );
    expect(resyncing).toMatch(/^vol0 +b +resyncing +\d+% .+\/s( ETA \S+)?$/m);
    const lift = await tandemctl(cluster.node('b').admin!, ['resync', '--rate', '0']);
    expect(lift.code, explain(lift)).toBe(0);
  } finally {
    fromB.close();
  }

  await readsBack(cluster.node('a').url(), NEWER, 60_000);
  await waitFor('b resynced from a and in sync', 90_000, async () => {
    const v = (await status(admin()))?.volumes.find((x) => x.id === 'vol0');
    return v?.primary === 'a' && v.inSync.join() === 'a,b' ? true : undefined;
  });
  // In sync: nothing recovers any more.
  const fromA = statusClient(cluster, 'a');
  try {
    await waitFor('status on a: no recovery left', 10_000, async () =>
      (await vol0Of(fromA))?.recovery.length === 0 ? true : undefined,
    );
  } finally {
    fromA.close();
  }

  // b's copy is a's now: with a gone, b serves the newer data.
  await cluster.kill('a');
  await readsBack(cluster.node('b').url(), NEWER, 60_000);
}
