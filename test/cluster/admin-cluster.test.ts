// Issue #6, checks 2 and 5, on a real 2-node replicated cluster (deploy/local/cluster):
//
// - check 2: `tandemctl config export` → wipe etcd → `config import` gives back the same
//   `status`, the same configuration (secrets included) and the same data. The cluster is built
//   live with tandemctl (a second volume on LUN 1, a second target with an ACL, CHAP and mutual
//   CHAP and its own volume), patterns are written with qemu-io, the configuration is exported,
//   the cluster is brought down, etcd's data directory removed and the cluster brought up again
//   (etcd starts empty: the nodes' bootstrap section re-creates only vol0), the export is
//   imported, and everything is compared; the data is read back through both nodes. Importing
//   the export with hidden secrets afterwards keeps the stored secrets.
// - check 5: tandemctl against a closed port, a killed node and a node whose etcd is frozen
//   (SIGSTOP) fails fast with exit 4 / 5 and one line on stderr, no stack trace.
//
// The elapsed times are printed (console.log) so that they can be quoted.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, type ClusterOptions, startCluster, TANDEMCTL, tandemctl } from '../helpers/cluster.js';
import type { LogLine } from '../helpers/daemon.js';
import { explain, qemuIo, type RunResult, requireTools, run } from '../helpers/tools.js';

const MiB = 1 << 20;
const OPTS: ClusterOptions = { nodes: 2, kind: 'replicated', size: '256M', ttl: 5 };
const TARGET2 = 'iqn.2026-11.org.tandem:second';
const HOST1 = 'iqn.2026-11.org.tandem.test:host1';
const CHAP_SECRET = 'host1secret123';
const MUTUAL_SECRET = 'tandemsecret12';
const VERIFY_FAILED = 'Pattern verification failed';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What is written before the export and read back after the import, through both nodes. */
const PATTERNS = [
  { lun: 0, volume: 'vol0', offset: 0, length: 8 * MiB, pattern: 0xa1 },
  { lun: 0, volume: 'vol0', offset: 200 * MiB, length: 4 * MiB, pattern: 0x3c },
  { lun: 1, volume: 'data1', offset: MiB, length: 8 * MiB, pattern: 0xd1 },
];

interface VolumeStatus {
  id: string;
  kind: string;
  size: number;
  replicas: string[];
  inSync: string[];
  primary: string;
  epoch: number;
  resyncDoneBytes: number;
  resyncTotalBytes: number;
  luns: string[];
}
interface Status {
  nodes: Array<{ name: string; up: boolean; portals: string[] }>;
  volumes: VolumeStatus[];
  sessions: unknown[];
  warnings: string[];
  mode: string;
}

const tctl = (endpoint: string, args: string[], timeoutMs = 60_000): Promise<RunResult> =>
  tandemctl(endpoint, [...args], timeoutMs);

async function ok(endpoint: string, args: string[]): Promise<string> {
  const r = await tctl(endpoint, args);
  expect(r.code, explain(r)).toBe(0);
  return r.stdout;
}

async function status(endpoint: string): Promise<Status> {
  return JSON.parse(await ok(endpoint, ['--json', 'status'])) as Status;
}

/** What must survive export → wipe → import: no epochs, primaries, times, sessions or progress. */
function normalize(s: Status) {
  return {
    mode: s.mode,
    nodes: s.nodes
      .map((n) => ({ name: n.name, portals: n.portals }))
      .sort((x, y) => x.name.localeCompare(y.name)),
    volumes: s.volumes
      .map((v) => ({
        id: v.id,
        kind: v.kind,
        size: v.size,
        replicas: [...v.replicas].sort(),
        luns: [...v.luns].sort(),
      }))
      .sort((x, y) => x.id.localeCompare(y.id)),
  };
}

/** Every volume of `ids` has a primary, both replicas in sync and no resync running. */
function settled(s: Status, ids: string[]): boolean {
  return ids.every((id) => {
    const v = s.volumes.find((x) => x.id === id);
    return v !== undefined && v.primary !== '' && v.inSync.length === 2 && v.resyncTotalBytes === 0;
  });
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** The configuration export without its first comment line (it names the etcd revision). */
const withoutRevision = (yaml: string) =>
  yaml
    .split('\n')
    .filter((l) => !/^# Tandem cluster configuration, revision \d+/.test(l))
    .join('\n');

function expectQemuOk(r: RunResult, bytes: number, offset: number, verb: 'wrote' | 'read'): void {
  expect(r.stdout + r.stderr, explain(r)).not.toContain(VERIFY_FAILED);
  expect(r.code, explain(r)).toBe(0);
  expect(r.stdout, explain(r)).toContain(`${verb} ${bytes}/${bytes} bytes at offset ${offset}`);
}

/** iscsi-inq to TARGET2 LUN 0 through `portal` as HOST1 with CHAP and mutual CHAP. */
function chapInquiry(portal: string, secret = CHAP_SECRET): Promise<RunResult> {
  return run('iscsi-inq', ['-i', HOST1, `iscsi://host1%${secret}@${portal}/${TARGET2}/0`], {
    timeoutMs: 30_000,
    env: { LIBISCSI_CHAP_TARGET_USERNAME: 'tandem', LIBISCSI_CHAP_TARGET_PASSWORD: MUTUAL_SECRET },
  });
}

/** A loopback port nothing listens on (bound by the kernel, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A failure as check 5 wants it: the exit status, one line on stderr, no stack, fast. */
function expectFastFailure(r: RunResult, code: number, maxMs: number, mentions: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(r.timedOut, explain(r)).toBe(false);
  expect(r.code, explain(r)).toBe(code);
  expect(lines, explain(r)).toHaveLength(1);
  expect(lines[0], explain(r)).toMatch(/^tandemctl: /);
  expect(lines[0], explain(r)).toMatch(mentions);
  expect(r.stderr + r.stdout, explain(r)).not.toMatch(/^\s+at /m);
  expect(r.stdout, explain(r)).toBe('');
  expect(r.ms, explain(r)).toBeLessThan(maxMs);
}

const logsSince = (logs: LogLine[], from: number) => logs.slice(from);

describe('tandemctl against a real cluster (issue #6, checks 2 and 5)', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    requireTools('qemu-io', 'iscsi-inq');
    if (!existsSync(TANDEMCTL)) throw new Error(`${TANDEMCTL} not found: run \`npm run build\` first`);
    cluster = await startCluster(OPTS);
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
  }, 60_000);

  it('config export → wipe etcd → config import gives back the same status, configuration and data', async () => {
    const admin = () => cluster.node('a').admin!;
    await waitFor('vol0 in sync on both nodes', 60_000, async () =>
      settled(await status(admin()), ['vol0']) ? true : undefined,
    );

    // Build the configuration live.
    const secretFile = path.join(cluster.dir, 'chap-secret');
    const mutualFile = path.join(cluster.dir, 'mutual-secret');
    writeFileSync(secretFile, `${CHAP_SECRET}\n`, { mode: 0o600 });
    writeFileSync(mutualFile, MUTUAL_SECRET, { mode: 0o600 });
    for (const args of [
      ['volume', 'create', 'data1', '--size', '64M'],
      ['lun', 'map', cluster.target, '1', 'data1'],
      ['volume', 'create', 'data2', '--size', '32M'],
      ['target', 'create', TARGET2],
      ['lun', 'map', TARGET2, '0', 'data2'],
      ['acl', 'add', TARGET2, HOST1],
      [
        ...['chap', 'set', TARGET2, '--user', 'host1', '--secret-file', secretFile],
        ...['--mutual-user', 'tandem', '--mutual-secret-file', mutualFile],
      ],
    ]) {
      await ok(admin(), args);
    }
    const volumes = ['vol0', 'data1', 'data2'];
    await waitFor('vol0, data1 and data2 in sync on both nodes', 60_000, async () =>
      settled(await status(admin()), volumes) ? true : undefined,
    );

    const portalA = `${cluster.node('a').host}:${cluster.node('a').port}`;
    const inq = await chapInquiry(portalA);
    expect(inq.code, explain(inq)).toBe(0);
    const badInq = await chapInquiry(portalA, 'wrongsecret123');
    expect(badInq.code, `negative control: a wrong CHAP secret must fail\n${explain(badInq)}`).not.toBe(0);

    for (const p of PATTERNS) {
      const w = await qemuIo(cluster.node('a').url(p.lun), [`write -P ${p.pattern} ${p.offset} ${p.length}`]);
      expectQemuOk(w, p.length, p.offset, 'wrote');
    }

    // Raise the epochs well above what a fresh etcd's revisions will be (each switchover is a
    // new term): after the wipe, epoch history must restart with the new etcd's era rather than
    // keep every node refusing to be primary until revisions catch up.
    for (let i = 0; i < 4; i++) await ok(admin(), ['switchover', 'vol0']);
    const f1 = await ok(admin(), ['config', 'export', '--show-secrets']);
    const f0 = await ok(admin(), ['config', 'export']);
    const f1File = path.join(cluster.dir, 'F1.yaml');
    const f0File = path.join(cluster.dir, 'F0.yaml');
    writeFileSync(f1File, f1);
    writeFileSync(f0File, f0);
    expect(f1).toContain(`secret: ${CHAP_SECRET}`);
    expect(f1).toContain(`secret: ${MUTUAL_SECRET}`);
    expect(f0).not.toContain(CHAP_SECRET);
    expect(f0).not.toContain(MUTUAL_SECRET);
    expect(f0).toContain('secret: <hidden>');
    const before = normalize(await status(admin()));
    const targetsBefore = JSON.parse(await ok(admin(), ['--json', 'target', 'list'])) as unknown;
    expect(before.volumes.map((v) => v.id)).toEqual(['data1', 'data2', 'vol0']);

    // Wipe etcd: down, remove its data directory, up again on the same dir (the nodes keep theirs).
    const etcdData = cluster.info.etcdDataDir;
    expect(etcdData).toBe(path.join(cluster.dir, 'etcd', 'data'));
    const logFrom = Object.fromEntries(cluster.names.map((n) => [n, cluster.node(n).logs().length]));
    await cluster.down();
    await rm(etcdData, { recursive: true, force: true });
    expect(existsSync(etcdData)).toBe(false);
    const tUp = performance.now();
    await cluster.up({ ...OPTS, timeoutS: 90 });
    const upMs = performance.now() - tUp;

    // Empty etcd: the bootstrap section brought back vol0 only.
    const fresh = await ok(admin(), ['config', 'export', '--show-secrets']);
    expect(fresh).not.toContain('data1');
    expect(fresh).not.toContain(TARGET2);
    const vol0Primary = await waitFor('vol0 to have a primary in the fresh etcd', 180_000, async () => {
      const v = (await status(admin())).volumes.find((x) => x.id === 'vol0');
      return v?.primary ? v : undefined;
    });
    const vol0PrimaryMs = performance.now() - tUp;

    const tImport = performance.now();
    const imp = JSON.parse(await ok(admin(), ['--json', 'config', 'import', f1File])) as {
      added: string[];
      changed: string[];
      removed: string[];
      unchanged: number;
    };
    const importMs = performance.now() - tImport;
    expect(imp.added.sort()).toEqual(
      [
        `luns/${cluster.target},1`,
        `luns/${TARGET2},0`,
        `targets/${TARGET2}`,
        'volumes/data1',
        'volumes/data2',
      ].sort(),
    );
    expect(imp.removed).toEqual([]);
    expect(imp.changed).toEqual([]);

    const after = await waitFor(
      'every volume with a primary and both replicas in sync',
      180_000,
      async () => {
        const s = await status(admin());
        return settled(s, volumes) ? s : undefined;
      },
    );
    const settledMs = performance.now() - tImport;

    // What happened on the nodes after the wipe (reported, not only asserted).
    const staleEpoch: string[] = [];
    const events: string[] = [];
    for (const n of cluster.names) {
      for (const l of logsSince(cluster.node(n).logs(), logFrom[n]!)) {
        const msg = String(l.msg ?? '');
        const err = (l.err as { message?: string } | undefined)?.message ?? '';
        if (/older than \d+, already seen here/.test(err)) staleEpoch.push(`${n}: ${err}`);
        if (
          /^(dataset created|replicated volume created|resync started|resync done|volume identity seed)/.test(
            msg,
          )
        ) {
          events.push(
            `${n} ${String(l.volume)}: ${msg}${l.peer ? ` peer=${String(l.peer)}` : ''}` +
              `${l.full !== undefined ? ` full=${String(l.full)}` : ''}` +
              `${l.bytes !== undefined ? ` bytes=${String(l.bytes)}` : ''}` +
              `${l.sentBytes !== undefined ? ` sentBytes=${String(l.sentBytes)}` : ''}`,
          );
        }
      }
    }
    expect(staleEpoch, 'elections refused for an epoch of the old etcd').toEqual([]);
    console.log(
      `etcd wiped: \`cluster up\` took ${Math.round(upMs)} ms; vol0 primary (${vol0Primary.primary}, epoch ` +
        `${vol0Primary.epoch}) ${Math.round(vol0PrimaryMs)} ms after \`up\` was called; ` +
        `${staleEpoch.length} refused elections for a stale epoch after the wipe` +
        `${staleEpoch.length > 0 ? ` (first: ${staleEpoch[0]}; last: ${staleEpoch.at(-1)})` : ''}; ` +
        `config import ${Math.round(importMs)} ms; all volumes in sync ${Math.round(settledMs)} ms after ` +
        `import started: ${after.volumes.map((v) => `${v.id} primary ${v.primary} epoch ${v.epoch}`).join(', ')}\n` +
        `  after the wipe:\n    ${events.join('\n    ')}`,
    );

    // Same status, targets and configuration (secrets included).
    expect(normalize(after)).toEqual(before);
    expect(JSON.parse(await ok(admin(), ['--json', 'target', 'list']))).toEqual(targetsBefore);
    const restored = await ok(admin(), ['config', 'export', '--show-secrets']);
    expect(withoutRevision(restored)).toBe(withoutRevision(f1));
    expect(withoutRevision(await ok(admin(), ['config', 'export']))).toBe(withoutRevision(f0));

    // The restored CHAP secrets are in force.
    const inq2 = await chapInquiry(portalA);
    expect(inq2.code, explain(inq2)).toBe(0);

    // Same data, through either node.
    for (const n of cluster.names) {
      for (const p of PATTERNS) {
        const rd = await qemuIo(cluster.node(n).url(p.lun), [`read -P ${p.pattern} ${p.offset} ${p.length}`]);
        expectQemuOk(rd, p.length, p.offset, 'read');
      }
    }
    // Negative control: the reads above can fail.
    const bad = await qemuIo(cluster.node('b').url(1), [`read -P 0x00 ${PATTERNS[2]!.offset} ${MiB}`]);
    expect(bad.stdout + bad.stderr, explain(bad)).toContain(VERIFY_FAILED);
    for (const id of volumes) {
      const v = await tctl(admin(), ['--json', 'verify', id], 120_000);
      expect(v.code, explain(v)).toBe(0);
      expect((JSON.parse(v.stdout) as { differing: unknown[] }).differing).toEqual([]);
    }

    // Importing the export with hidden secrets keeps the stored ones.
    const imp0 = JSON.parse(await ok(admin(), ['--json', 'config', 'import', f0File])) as {
      added: string[];
      changed: string[];
      removed: string[];
    };
    expect(imp0, JSON.stringify(imp0)).toMatchObject({ added: [], changed: [], removed: [] });
    expect(withoutRevision(await ok(admin(), ['config', 'export', '--show-secrets']))).toBe(
      withoutRevision(f1),
    );
    expect(readFileSync(f1File, 'utf8')).toBe(f1);
  }, 600_000);

  it('fails fast with one clear line when the node is down or etcd unreachable', async () => {
    // (a) nothing listens on the port.
    const port = await closedPort();
    const closed = await tctl(`127.0.0.1:${port}`, ['status']);
    console.log(
      `closed port 127.0.0.1:${port}: exit ${closed.code} in ${closed.ms} ms: ${closed.stderr.trim()}`,
    );
    expectFastFailure(closed, 4, 2000, new RegExp(`127\\.0\\.0\\.1:${port}`));

    // (b) a killed node.
    const bAdmin = cluster.node('b').admin!;
    await cluster.kill('b');
    const down = await tctl(bAdmin, ['status']);
    console.log(`killed node b (${bAdmin}): exit ${down.code} in ${down.ms} ms: ${down.stderr.trim()}`);
    expectFastFailure(down, 4, 2000, new RegExp(bAdmin.replace(/\./g, '\\.')));

    // (c) etcd frozen (SIGSTOP): a's admin API answers, the cluster does not.
    const aAdmin = cluster.node('a').admin!;
    cluster.stopEtcd();
    try {
      const st = await tctl(aAdmin, ['status']);
      console.log(`etcd stopped, status via a: exit ${st.code} in ${st.ms} ms: ${st.stderr.trim()}`);
      const create = await tctl(aAdmin, ['volume', 'create', 'x', '--size', '1M']);
      console.log(
        `etcd stopped, volume create via a: exit ${create.code} in ${create.ms} ms: ${create.stderr.trim()}`,
      );
      expectFastFailure(st, 5, 6000, /etcd/);
      expectFastFailure(create, 5, 6000, /etcd/);
    } finally {
      cluster.contEtcd();
    }
    // etcd back: the refused create changed nothing, and the node answers again.
    const vols = await waitFor('a to answer with etcd back', 30_000, async () => {
      const r = await tctl(aAdmin, ['--json', 'volume', 'list']);
      return r.code === 0 ? (JSON.parse(r.stdout) as Array<{ id: string }>) : undefined;
    });
    expect(vols.map((v) => v.id).sort()).toEqual(['data1', 'data2', 'vol0']);
  }, 120_000);
});
