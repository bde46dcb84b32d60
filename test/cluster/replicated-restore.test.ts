// Issue 14, finding 4 and check 4: a restore must not make a stale replica the truth. On a real
// 2-node replicated cluster: a pattern is written with both replicas in sync; b is killed; a newer
// pattern is written through a (a removes b from the in-sync set); the cluster goes down. etcd
// comes back empty (its data directory removed; the nodes' bootstrap section writes the
// configuration again, as a config import into an empty etcd does) and the stale node b is
// started first: it must not found a new lineage but wait, saying for whom. Then a starts: a's
// newer data must be what is served, and b is resynced from it (read back through b once a is
// killed and b has taken over).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster, TANDEMCTL, tandemctl } from '../helpers/cluster.js';
import { ETCD_BIN } from '../helpers/etcd.js';
import { explain, qemuIo, type RunResult, requireTools } from '../helpers/tools.js';

const MiB = 1 << 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const VERIFY_FAILED = 'Pattern verification failed';

/** Written with both replicas in sync, then overwritten (NEWER) while b is down. */
const OLD = { offset: 0, length: MiB, pattern: 0x11 };
const NEWER = [
  { offset: 0, length: MiB, pattern: 0x5e },
  { offset: 8 * MiB, length: MiB, pattern: 0x7a },
];

interface Status {
  volumes: Array<{ id: string; inSync: string[]; primary: string }>;
}

async function status(endpoint: string): Promise<Status | undefined> {
  const r = await tandemctl(endpoint, ['--json', 'status'], 20_000);
  return r.code === 0 ? (JSON.parse(r.stdout) as Status) : undefined;
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(250);
  }
}

const verified = (r: RunResult, p: { offset: number; length: number }, verb: 'wrote' | 'read') =>
  r.code === 0 &&
  !(r.stdout + r.stderr).includes(VERIFY_FAILED) &&
  r.stdout.includes(`${verb} ${p.length}/${p.length} bytes at offset ${p.offset}`);

/** Reads every pattern of `ps` through `url` until they all verify (a failover may be under way). */
async function readsBack(url: string, ps: typeof NEWER, ms: number): Promise<void> {
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

/**
 * etcd again on the cluster's ports and data directory, now empty: a new etcd cluster (a new
 * era), as after a loss of etcd and a config import. cluster.json names its pid, so the cluster
 * script's start and down treat it as the cluster's etcd.
 */
async function emptyEtcd(cluster: Cluster): Promise<ChildProcess> {
  const jsonFile = path.join(cluster.dir, 'cluster.json');
  const info = JSON.parse(readFileSync(jsonFile, 'utf8')) as {
    etcdDataDir: string;
    etcdPorts: { client: number; peer: number };
    etcdPid: number;
  };
  await rm(info.etcdDataDir, { recursive: true, force: true });
  const endpoint = `http://127.0.0.1:${info.etcdPorts.client}`;
  const peer = `http://127.0.0.1:${info.etcdPorts.peer}`;
  const child = spawn(
    ETCD_BIN,
    [
      ...['--name', 'local', '--data-dir', info.etcdDataDir],
      ...['--listen-client-urls', endpoint, '--advertise-client-urls', endpoint],
      ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
      ...['--initial-cluster', `local=${peer}`, '--log-outputs', 'stderr'],
    ],
    { stdio: 'ignore' },
  );
  await waitFor('the new etcd to be healthy', 15_000, async () => {
    try {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      return ((await res.json()) as { health?: string }).health === 'true' ? true : undefined;
    } catch {
      return undefined;
    }
  });
  info.etcdPid = child.pid!;
  writeFileSync(jsonFile, JSON.stringify(info, null, 2));
  return child;
}

describe('finding 4: after etcd forgot the replica set, the newest copy stays the source', () => {
  let cluster: Cluster;
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

  it('the stale node started first waits; the node with the newer data founds the set and b is resynced from it', async () => {
    const admin = () => cluster.node('a').admin!;
    await waitFor('vol0 in sync on a and b', 60_000, async () => {
      const v = (await status(admin()))?.volumes.find((x) => x.id === 'vol0');
      return v?.primary === 'a' && v.inSync.join() === 'a,b' ? true : undefined;
    });
    const w0 = await qemuIo(cluster.node('a').url(), [`write -P ${OLD.pattern} ${OLD.offset} ${OLD.length}`]);
    expect(verified(w0, OLD, 'wrote'), explain(w0)).toBe(true);

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
    etcd = await emptyEtcd(cluster);

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

    const aFrom = cluster.node('a').logs().length;
    await cluster.start('a');
    await waitFor('a to re-create the replica set from its copy', 30_000, () =>
      cluster
        .node('a')
        .logs()
        .slice(aFrom)
        .find((l) => typeof l.msg === 'string' && l.msg.startsWith('replica set re-created from this copy')),
    );
    await readsBack(cluster.node('a').url(), NEWER, 60_000);
    await waitFor('b resynced from a and in sync', 90_000, async () => {
      const v = (await status(admin()))?.volumes.find((x) => x.id === 'vol0');
      return v?.primary === 'a' && v.inSync.join() === 'a,b' ? true : undefined;
    });

    // b's copy is a's now: with a gone, b serves the newer data.
    await cluster.kill('a');
    await readsBack(cluster.node('b').url(), NEWER, 60_000);
  }, 300_000);
});
