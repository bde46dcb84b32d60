// `npm run soak:hostile` (issue #13, check 3; not in `npm test`): mixed hostile clients
// (test/soak/attacks.ts) against both nodes of a 2-node replicated TLS cluster for
// TANDEM_SOAK_SECONDS (default 600, or SOAK_MINUTES × 60; e.g. TANDEM_SOAK_SECONDS=90 npm run
// soak:hostile), while two
// victims do verified writes and reads (test/soak/victim.ts) of vol0: one through its primary
// (a), one through b, which forwards to it. Every 5 s: each node's RSS, its refusal counters
// (tandem_iscsi_refusals_total from its /metrics) and the victims' p99. The closing note
// (test/soak/report.ts) is printed and written as JSON to TANDEM_SOAK_REPORT (default: a new
// temp dir, named in the output).
//
// Fails if a victim sees an error or wrong data, a node dies, a node's RSS grows by more than
// its nodeBudget plus RSS_MARGIN, a victim's p99 during the attacks exceeds the bound below, or
// a hostile client got through (a finding: a joined session, CHAP_C of a bad length accepted,
// an XCOPY past the reservation, a gRPC call without the right certificate accepted).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { createCa, issueCert } from '../../src/security/ca.js';
import {
  adminCredentialArgs,
  type Cluster,
  leadership,
  startCluster,
  TANDEMCTL,
} from '../helpers/cluster.js';
import { rssBytes } from '../helpers/hostile-clients.js';
import {
  IscsiInitiator,
  inquiryVpd,
  PrOutAction,
  PrType,
  persistentReserveOut,
  persistentReserveOutParams,
  read10,
  testUnitReady,
  write10,
} from '../helpers/initiator/index.js';
import { explain, type RunResult, run } from '../helpers/tools.js';
import { Status } from '../helpers/wire.js';
import { type AttackContext, attacks, type Pems, type SoakNode } from './attacks.js';
import { formatReport, type Phase, pct, type Sample, type SoakReport, summarize } from './report.js';
import { Victim } from './victim.js';

const MiB = 1 << 20;
const SECONDS = Number(
  process.env.TANDEM_SOAK_SECONDS ?? (process.env.SOAK_MINUTES ? Number(process.env.SOAK_MINUTES) * 60 : 600),
);
const BEFORE_S = Math.round(Math.min(30, Math.max(10, SECONDS / 6)));
const AFTER_S = 15;
const SAMPLE_MS = 5000;
const WORKERS = 3;
/** iscsi.limits of both nodes (merged into their node files by overlay-tandemd.mjs). */
const LIMITS = {
  connectionsPerSource: 64,
  connections: 1024,
  connectionsInLogin: 128,
  sessionsPerInitiator: 8,
  commandsPerSession: 32,
  connectionBudget: 32 * MiB,
  nodeBudget: 256 * MiB,
};
/**
 * What a node may hold beyond its nodeBudget: the replication and forwarding buffers (gRPC to
 * the peer), transient engine buffers, the V8 heap's own growth and fragmentation. Stated.
 */
const RSS_MARGIN = 128 * MiB;
/** A victim's p99 during the attacks: at most this, or 10 × its p99 before if that is more. */
const P99_FLOOR_MS = 2000;
const HOSTILE_TARGET = 'iqn.2026-12.org.tandem.soak:hostile';
const CHAP = {
  user: 'soak-victim',
  secret: 'victimSecret01',
  mutualUser: 'soak-target',
  mutualSecret: 'targetSecret01',
};
const RESERVED_LBA = 64;
const RESERVED_BLOCKS = 16;
const HOSTILE_VOLUME_BYTES = 64 * MiB;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function ctl(cluster: Cluster, args: string[]): Promise<void> {
  const r = await ctlRun(cluster, args);
  if (r.code !== 0) throw new Error(`tandemctl ${args.join(' ')}:\n${explain(r)}`);
}

function ctlRun(cluster: Cluster, args: string[]): Promise<RunResult> {
  const admin = cluster.node('a').admin!;
  return run(
    process.execPath,
    [TANDEMCTL, '--endpoint', admin, ...adminCredentialArgs(admin), '--timeout', '30', ...args],
    {
      timeoutMs: 180_000,
      env: { SOAK_SECRET: CHAP.secret, SOAK_MUTUAL: CHAP.mutualSecret },
    },
  );
}

/** `tandemctl verify` of each volume once it is in sync: "identical", or what it said. */
async function verifyReplicas(cluster: Cluster): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const v of ['vol0', 'vol1', 'vol2']) {
    const w = await ctlRun(cluster, ['wait', v, '--in-sync', '--wait', '120']);
    const r = w.code === 0 ? await ctlRun(cluster, ['verify', v]) : w;
    out[v] =
      r.code === 0
        ? 'identical'
        : `exit ${r.code}: ${(r.stdout + r.stderr).trim().split('\n').slice(-3).join(' / ')}`;
  }
  return out;
}

async function refusalsOf(metrics: string | undefined): Promise<Record<string, number> | null> {
  if (!metrics) return null;
  try {
    const res = await fetch(`http://${metrics}/metrics`, { signal: AbortSignal.timeout(4000) });
    const out: Record<string, number> = {};
    for (const m of (await res.text()).matchAll(/^tandem_iscsi_refusals_total\{kind="([^"]+)"\} (\d+)/gm))
      out[m[1]!] = Number(m[2]);
    return out;
  } catch {
    return null;
  }
}

async function naaOf(s: IscsiInitiator, lun: number): Promise<Buffer> {
  const page = (await s.scsi(lun, inquiryVpd(0x83), { expectedDataIn: 255 })).data;
  for (let off = 4; off < page.length; off += 4 + page[off + 3]!)
    if ((page[off + 1]! & 0x3f) === 0x03)
      return Buffer.from(page.subarray(off + 4, off + 4 + page[off + 3]!));
  throw new Error('no NAA designator');
}

/** A command retried through unit attentions and transitions (bounded). */
async function settled(s: IscsiInitiator, lun: number, cdb: Buffer, opts = {}) {
  for (let i = 0; ; i++) {
    const r = await s.scsi(lun, cdb, opts);
    const k = r.sense?.key;
    if (i > 100 || !(r.status === Status.CHECK_CONDITION && (k === 6 || k === 2))) return r;
    await sleep(200);
  }
}

/**
 * The holder of a Write Exclusive reservation on the hostile target's LUN 1: it wrote
 * `data` at RESERVED_LBA and reads it back on request (logging in again with the same name and
 * ISID, the same I_T nexus, if a reset closed its session).
 */
class Reserver {
  readonly data = Buffer.alloc(RESERVED_BLOCKS * 512, 0xa5);
  #s: IscsiInitiator | undefined;
  constructor(readonly node: SoakNode) {}
  async session(): Promise<IscsiInitiator> {
    if (this.#s && !this.#s.isClosed) return this.#s;
    this.#s = await IscsiInitiator.connect({
      host: this.node.host,
      port: this.node.port,
      initiatorName: 'iqn.2026-12.org.tandem.soak:reserver',
      isid: '400013ee0001',
      sessionType: 'Normal',
      targetName: HOSTILE_TARGET,
      timeoutMs: 30_000,
    });
    await settled(this.#s, 1, testUnitReady());
    return this.#s;
  }
  async reserve(): Promise<void> {
    const s = await this.session();
    const key = 0x50a4n;
    const reg = await settled(s, 1, persistentReserveOut(PrOutAction.REGISTER), {
      dataOut: persistentReserveOutParams({ serviceActionKey: key }),
    });
    expect(reg.status, 'REGISTER').toBe(Status.GOOD);
    const res = await settled(s, 1, persistentReserveOut(PrOutAction.RESERVE, PrType.WRITE_EXCLUSIVE), {
      dataOut: persistentReserveOutParams({ key }),
    });
    expect(res.status, 'RESERVE').toBe(Status.GOOD);
    const w = await settled(s, 1, write10(RESERVED_LBA, RESERVED_BLOCKS), { dataOut: this.data });
    expect(w.status, 'WRITE by the holder').toBe(Status.GOOD);
  }
  async unchanged(): Promise<boolean> {
    const r = await settled(await this.session(), 1, read10(RESERVED_LBA, RESERVED_BLOCKS), {
      expectedDataIn: this.data.length,
    });
    return r.status === Status.GOOD && r.data.equals(this.data);
  }
  close(): void {
    this.#s?.close();
  }
}

async function pems(dir: string): Promise<Pems> {
  const read = (f: string) => readFileSync(path.join(dir, 'tls', f));
  const ca = { certPem: read('ca.crt').toString(), keyPem: read('ca.key').toString() };
  const pair = (p: { certPem: string; keyPem: string }) => ({
    cert: Buffer.from(p.certPem),
    key: Buffer.from(p.keyPem),
  });
  const other = await createCa('someone else');
  return {
    ca: read('ca.crt'),
    node: { a: { cert: read('a.crt'), key: read('a.key') }, b: { cert: read('b.crt'), key: read('b.key') } },
    stranger: pair(await issueCert(ca, { name: 'z', kind: 'node' })),
    foreignNode: pair(await issueCert(other, { name: 'b', kind: 'node' })),
    foreignAdmin: pair(await issueCert(other, { name: 'admin', kind: 'admin' })),
    readOnly: pair(await issueCert(ca, { name: 'viewer', kind: 'read-only' })),
  };
}

it(`hostile soak: ${SECONDS} s of mixed hostile clients against a 2-node cluster while verified writers run`, async () => {
  process.env.TANDEM_TANDEMD = fileURLToPath(new URL('overlay-tandemd.mjs', import.meta.url));
  process.env.TANDEM_SOAK_NODE_OVERLAY = JSON.stringify({
    iscsi: { limits: LIMITS },
    metrics: { listen: '127.0.0.1:0' },
  });
  const cluster = await startCluster({ nodes: 2, kind: 'replicated', size: '64M', timeoutS: 60 });
  for (const [id, size] of [
    ['vol1', HOSTILE_VOLUME_BYTES],
    ['vol2', 16 * MiB],
  ] as const)
    await ctl(cluster, [
      'volume',
      'create',
      id,
      '--size',
      `${size / MiB}M`,
      '--kind',
      'replicated',
      '--replicas',
      'a,b',
    ]);
  await ctl(cluster, ['target', 'create', HOSTILE_TARGET]);
  await ctl(cluster, ['lun', 'map', HOSTILE_TARGET, '0', 'vol1']);
  await ctl(cluster, ['lun', 'map', HOSTILE_TARGET, '1', 'vol2']);
  await ctl(cluster, [
    'chap',
    'set',
    cluster.target,
    '--user',
    CHAP.user,
    '--secret-env',
    'SOAK_SECRET',
    '--mutual-user',
    CHAP.mutualUser,
    '--mutual-secret-env',
    'SOAK_MUTUAL',
  ]);
  for (const v of ['vol0', 'vol1', 'vol2']) await ctl(cluster, ['wait', v, '--in-sync']);

  const nodes: SoakNode[] = cluster.info.nodes.map((n) => {
    const i = n.portal.lastIndexOf(':');
    return {
      name: n.name,
      host: n.portal.slice(0, i),
      port: Number(n.portal.slice(i + 1)),
      grpc: n.grpc!,
      admin: n.admin!,
      pid: n.pid,
    };
  });
  const metrics: Record<string, string | undefined> = {};
  for (const n of cluster.nodes)
    metrics[n.name] = n
      .logs()
      .filter((l) => l.event === 'ready')
      .pop()?.metrics as string | undefined;
  expect(Object.values(metrics).every(Boolean), `metrics listeners: ${JSON.stringify(metrics)}`).toBe(true);

  const t0 = Date.now();
  const victims = await Promise.all(
    nodes.map((n, i) =>
      Victim.connect({
        name: `victim-${n.name}`,
        node: n.name,
        host: n.host,
        port: n.port,
        target: cluster.target,
        isid: `400013a0000${i + 1}`,
        chap: {
          user: CHAP.user,
          secret: CHAP.secret,
          mutual: { user: CHAP.mutualUser, secret: CHAP.mutualSecret },
        },
        baseLba: 10_000 + i * 8192,
        t0,
      }),
    ),
  );
  const reserver = new Reserver(nodes[0]!);
  await reserver.reserve();
  const hostileProbe = await reserver.session();
  const srcNaa = await naaOf(hostileProbe, 0);
  const dstNaa = await naaOf(hostileProbe, 1);

  const outcomes = new Map<string, Map<string, number>>();
  const runs = new Map<string, number>();
  const findings: string[] = [];
  const deaths: string[] = [];
  let nextId = 0;
  const ctx: AttackContext = {
    nodes,
    hostileTarget: HOSTILE_TARGET,
    victimTarget: cluster.target,
    victimChap: { user: CHAP.user, secret: CHAP.secret },
    victims: victims.map((v) => ({
      initiatorName: `iqn.2026-12.org.tandem.soak:${v.name}`,
      isid: v.opts.isid,
      tsih: () => v.init.tsih,
    })),
    limits: LIMITS,
    hostileLuBlocks: HOSTILE_VOLUME_BYTES / 512,
    pems: await pems(cluster.dir),
    reserved: {
      srcNaa,
      dstNaa,
      lba: RESERVED_LBA,
      blocks: RESERVED_BLOCKS,
      unchanged: () => reserver.unchanged(),
    },
    record(attack, outcome) {
      const m = outcomes.get(attack) ?? new Map<string, number>();
      outcomes.set(attack, m.set(outcome, (m.get(outcome) ?? 0) + 1));
    },
    finding(text) {
      findings.push(`${((Date.now() - t0) / 1000).toFixed(0)} s: ${text}`);
    },
    nextId: () => ++nextId,
  };

  let phase: Phase = 'before';
  const samples: Sample[] = [];
  let lastSampleAt = 0;
  const sample = async () => {
    const now = Date.now() - t0;
    const rss: Record<string, number | null> = {};
    const refusals: Record<string, Record<string, number> | null> = {};
    for (const n of nodes) {
      const up = alive(n.pid);
      if (!up && !deaths.includes(n.name)) deaths.push(n.name);
      rss[n.name] = up ? rssBytes(n.pid) : null;
      refusals[n.name] = await refusalsOf(metrics[n.name]);
    }
    const victimP99: Record<string, number | null> = {};
    for (const v of victims) {
      const ms = v.latencies
        .filter((l) => l.at >= lastSampleAt)
        .map((l) => l.ms)
        .sort((a, b) => a - b);
      victimP99[v.name] = ms.length ? pct(ms, 0.99) : null;
    }
    lastSampleAt = now;
    samples.push({ t: now / 1000, phase, rss, refusals, victimP99 });
  };
  await sample();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await sleep(SAMPLE_MS);
      await sample();
    }
  })();
  let reportText = '';
  try {
    for (const v of victims) v.start();
    await sleep(BEFORE_S * 1000);
    phase = 'during';
    const tDuring = Date.now() - t0;
    const end = Date.now() + SECONDS * 1000;
    const names = Object.keys(attacks);
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (Date.now() < end && deaths.length === 0) {
          const name = names[Math.floor(Math.random() * names.length)]!;
          const node = nodes[Math.floor(Math.random() * nodes.length)]!;
          runs.set(name, (runs.get(name) ?? 0) + 1);
          try {
            await attacks[name]!(ctx, node);
          } catch (err) {
            // A hostile client refused or cut off is the point; what it saw is counted.
            ctx.record(
              name,
              `client error: ${(err as Error).constructor.name}: ${(err as Error).message.slice(0, 60)}`,
            );
          }
        }
      }),
    );
    phase = 'after';
    const tAfter = Date.now() - t0;
    await sleep(AFTER_S * 1000);
    for (const v of victims) await v.stop();
    const tEnd = Date.now() - t0;
    sampling = false;
    await sampler;
    await sample();
    const replicas = await verifyReplicas(cluster);

    const report: SoakReport = {
      seconds: { before: BEFORE_S, during: Math.round((tAfter - tDuring) / 1000), after: AFTER_S },
      limits: LIMITS,
      rssMarginBytes: RSS_MARGIN,
      p99BoundMs: 0,
      rss: Object.fromEntries(
        nodes.map((n) => {
          const series = samples
            .map((s) => s.rss[n.name])
            .filter((v): v is number => v !== null && v !== undefined);
          const start = samples[0]!.rss[n.name] ?? 0;
          const max = Math.max(...series);
          return [
            n.name,
            { start, max, end: samples[samples.length - 1]!.rss[n.name] ?? null, maxGrowth: max - start },
          ];
        }),
      ),
      samples,
      refusals: Object.fromEntries(
        nodes.map((n) => [
          n.name,
          [...samples].reverse().find((s) => s.refusals[n.name])?.refusals[n.name] ?? {},
        ]),
      ),
      victims: Object.fromEntries(
        victims.map((v) => [
          v.name,
          {
            node: v.opts.node,
            rounds: v.rounds,
            errors: v.errors,
            unitAttentions: v.unitAttentions,
            latency: {
              before: summarize(v.latencies, 0, tDuring),
              during: summarize(v.latencies, tDuring, tAfter),
              after: summarize(v.latencies, tAfter, tEnd + 1),
            },
          },
        ]),
      ),
      attacks: Object.fromEntries(
        [...runs].map(([a, n]) => [a, { runs: n, outcomes: Object.fromEntries(outcomes.get(a) ?? []) }]),
      ),
      findings,
      deaths,
      replicas,
      primaries: Object.fromEntries(
        ['vol0', 'vol1', 'vol2'].map((v) => [
          v,
          leadership(cluster, v)
            .map((l) => l.node)
            .join(' → '),
        ]),
      ),
    };
    const p99Before = Math.max(...Object.values(report.victims).map((v) => v.latency.before.p99));
    report.p99BoundMs = Math.round(Math.max(P99_FLOOR_MS, 10 * p99Before));
    reportText = formatReport(report);
    const file =
      process.env.TANDEM_SOAK_REPORT ??
      path.join(mkdtempSync(path.join(tmpdir(), 'tandem-soak-')), 'hostile-soak.json');
    writeFileSync(file, `${JSON.stringify(report, null, 1)}\n`);
    console.log(`${reportText}\n\nJSON: ${file}`);

    for (const v of Object.values(report.victims)) expect(v.errors).toEqual([]);
    expect(deaths).toEqual([]);
    expect(
      Object.values(replicas).every((x) => x === 'identical'),
      JSON.stringify(replicas),
    ).toBe(true);
    expect(findings).toEqual([]);
    for (const [n, x] of Object.entries(report.rss))
      expect(x.maxGrowth, `node ${n} RSS growth`).toBeLessThan(LIMITS.nodeBudget + RSS_MARGIN);
    for (const [v, x] of Object.entries(report.victims)) {
      expect(x.latency.during.commands, `${v} commands during`).toBeGreaterThan(0);
      expect(x.latency.during.p99, `${v} p99 during (ms)`).toBeLessThan(report.p99BoundMs);
    }
  } finally {
    sampling = false;
    for (const v of victims) {
      await v.stop();
      v.init.close();
    }
    reserver.close();
    if (!reportText) console.log(`soak ended early; findings so far: ${findings.join('; ') || 'none'}`);
    await cluster.destroy();
  }
});
