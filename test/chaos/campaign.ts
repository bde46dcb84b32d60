// The randomized fault campaign of issue 14 (`npm run chaos -- --faults N --seed S`; 10 faults in
// test/cluster/chaos.test.ts): a 2-node replicated cluster (test/chaos/chaos-cluster.ts) under
// the stamped multi-writer load of test/helpers/write-log.ts, one fault per round. A round: both
// replicas in sync; writers, a flusher (SYNCHRONIZE CACHE) and a reader run; the fault; until
// both are in sync again and a write was acknowledged after the fault; then the round's slots
// are read back and `tandemctl verify` compares the replicas. What must hold (DESIGN.md rules
// 7-9, docs/replication.md "Durability contract"):
//  - every acknowledged write reads back, unless both nodes lost power in the round (at once, or
//    one after the other before they were in sync again: power-cascade); then every write
//    acknowledged and flushed (SYNCHRONIZE CACHE GOOD) before the (second) cut reads back;
//  - no read returns data older than what that rule guarantees at the read's start (stale read);
//  - no two processes were primary at once (their own logs; frozen time excluded);
//  - verify finds the replicas identical once both are in sync.
// Each round writes a fresh range of the volume, and the last pass reads every earlier round
// again: data flushed at the end of a round must survive every later fault.
import { tandemctl } from '../helpers/cluster.js';
import { read16, synchronizeCache10 } from '../helpers/initiator/index.js';
import { MultipathClient } from '../helpers/multipath.js';
import { Status } from '../helpers/wire.js';
import { type AckRecord, decodeStamp, STAMP_BYTES, StampedWriters } from '../helpers/write-log.js';
import { ChaosCluster, TARGET, VOLUME } from './chaos-cluster.js';
import { describeTerms, floorAt, percentiles, terms, twoWriterWindows } from './checks.js';

export const FAULT_KINDS = [
  'sigkill',
  'sigstop',
  'power-one',
  'power-both',
  'partition-nodes',
  'partition-etcd',
  'etcd-kill',
  'power-cascade',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface CampaignOptions {
  faults: number;
  seed: number;
  /** Lease TTL (s). Default 3. */
  ttl?: number;
  kinds?: readonly FaultKind[];
  log?: (line: string) => void;
}

export interface FaultRecord {
  round: number;
  kind: FaultKind;
  detail: string;
  /** Fault to the first write acknowledged that was sent after it (ms). */
  recoveryMs: number;
  /**
   * The longest time without an acknowledged write from the fault to the end of the round: a
   * fault noticed late (a primary cut from etcd fences itself only near the lease's end) stalls
   * writes long after the first one that followed it.
   */
  stallMs: number;
  acks: number;
}

export interface CampaignReport {
  seed: number;
  faults: FaultRecord[];
  counts: Record<string, number>;
  lostWrites: string[];
  staleReads: string[];
  twoWriters: string[];
  verifyDifferences: string[];
  /**
   * Reads after a power cut of both nodes that found an acknowledged but unflushed write gone
   * (allowed; counted to show that the cuts bite).
   */
  unflushedLost: number;
  /** Overlaps of a thawed primary's logged term with its successor's, within the thaw grace. */
  thawOverlapsMs: number[];
  /** Anything else that went wrong (a round that never recovered, a failed command of ours). */
  errors: string[];
  recovery: { n: number; p50: number; p99: number; max: number };
  summary: string;
}

/** How long a thawed primary may take to log the end of its term (see twoWriterWindows). */
const THAW_GRACE_MS = 1500;
const WRITERS = 4;
const SLOTS = 16;
const ROUND_BLOCKS = (WRITERS * SLOTS * STAMP_BYTES) / 512;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a seeded PRNG, so a seed replays the same fault sequence. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Round {
  n: number;
  writers: StampedWriters;
  /** Set when both nodes lost power in the round. */
  loss?: { at: number; flushedAt: number };
  /** Reads that found an acknowledged, unflushed write lost at that cut. */
  regressions: number;
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  const log = o.log ?? ((l: string) => console.log(l));
  const random = rng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const ttl = o.ttl ?? 3;
  const kinds = o.kinds ?? FAULT_KINDS;
  // One fresh 256 KiB range per round, plus room.
  const sizeMiB = Math.max(64, Math.ceil(((o.faults + 2) * ROUND_BLOCKS * 512) / 2 ** 20) + 16);
  const report: CampaignReport = {
    seed: o.seed,
    faults: [],
    counts: {},
    lostWrites: [],
    staleReads: [],
    twoWriters: [],
    verifyDifferences: [],
    errors: [],
    unflushedLost: 0,
    thawOverlapsMs: [],
    recovery: { n: 0, p50: 0, p99: 0, max: 0 },
    summary: '',
  };
  log(`chaos: seed ${o.seed}, ${o.faults} faults, TTL ${ttl} s, volume ${sizeMiB} MiB`);
  const cluster = await ChaosCluster.start({ ttl, size: `${sizeMiB}M` });
  const mp = await MultipathClient.connect({
    paths: cluster.paths(),
    target: TARGET,
    initiatorName: 'iqn.2026-11.org.tandem.test:chaos',
    commandTimeoutMs: 3000,
    retryWindowMs: 90_000,
  });
  const rounds: Round[] = [];
  try {
    await inSync(mp, 60_000);
    for (let n = 0; n < o.faults; n++) {
      const kind = pick(kinds);
      const round: Round = {
        n,
        writers: new StampedWriters(mp, {
          writers: WRITERS,
          slotsPerWriter: SLOTS,
          baseLba: (n + 1) * ROUND_BLOCKS,
        }),
        regressions: 0,
      };
      rounds.push(round);
      const load = startLoad(mp, round, report);
      await sleep(between(800, 2000));
      const flushedAt = load.flushedAt();
      const primary = mp.paths.find((p) => p.state === 'active-optimized')?.name ?? '?';
      const at = performance.now();
      let detail: string;
      try {
        detail = await inject(
          kind,
          cluster,
          round,
          { at, flushedAt, now: load.flushedAt, primary },
          between,
          pick,
          ttl,
        );
      } catch (err) {
        detail = `injection failed: ${(err as Error).message}`;
        report.errors.push(`round ${n} ${kind}: ${detail}`);
      }
      // Recovered: a write sent after the fault was acknowledged, and both replicas are in sync.
      const first = () => round.writers.acks.find((a) => a.start > at);
      const deadline = performance.now() + 90_000;
      while (!first() && performance.now() < deadline) await sleep(50);
      const ack = first();
      try {
        await inSync(mp, 90_000);
      } catch (err) {
        report.errors.push(`round ${n} ${kind} (${detail}): ${(err as Error).message}`);
      }
      await sleep(300);
      await load.stop();
      const flushed = await flush(mp);
      if (!flushed) report.errors.push(`round ${n}: the closing SYNCHRONIZE CACHE failed`);
      const rec: FaultRecord = {
        round: n,
        kind,
        detail,
        recoveryMs: ack ? ack.end - at : Number.NaN,
        stallMs: longestStall(round.writers.acks, at),
        acks: round.writers.acks.length,
      };
      if (!ack) report.errors.push(`round ${n} ${kind} (${detail}): no write acknowledged after the fault`);
      report.faults.push(rec);
      report.counts[kind] = (report.counts[kind] ?? 0) + 1;
      const lost = await verifyRound(round);
      report.lostWrites.push(...lost);
      const allowed = round.loss
        ? ` (${round.regressions} reads found an unflushed write gone, allowed)`
        : '';
      const diff = await verifyReplicas(cluster, mp);
      report.verifyDifferences.push(...diff.map((d) => `round ${n} ${kind}: ${d}`));
      log(
        `chaos: round ${n} ${kind} (${detail}; primary was ${primary}): first write ${Math.round(rec.recoveryMs)} ms after the fault, longest stall ${Math.round(rec.stallMs)} ms, ` +
          `${rec.acks} acknowledged, ${lost.length} lost${allowed}, verify ${diff.length === 0 ? 'identical' : diff.join('; ')}`,
      );
    }
    // Every earlier round again: what was flushed at its end must have survived the rest.
    for (const r of rounds) report.lostWrites.push(...(await verifyRound(r, 'final pass')));
  } finally {
    await mp.close().catch(() => undefined);
    const logs = Object.fromEntries(cluster.nodes.map((x) => [x.name, x.logs()]));
    const ts = terms(logs, cluster.lives, VOLUME);
    for (const w of twoWriterWindows(ts, cluster.lives, THAW_GRACE_MS)) {
      report.twoWriters.push(
        `${w.a.node} (pid ${w.a.pid}) and ${w.b.node} (pid ${w.b.pid}) both primary for ${Math.round(w.ms)} ms from ${new Date(Math.max(w.a.from, w.b.from)).toISOString()}`,
      );
    }
    if (report.twoWriters.length > 0) report.twoWriters.push(`terms:\n${describeTerms(ts)}`);
    // What the thaw grace excused: a thawed primary's term as logged, past its frozen time.
    report.thawOverlapsMs = twoWriterWindows(ts, cluster.lives, 0).map((w) => Math.round(w.ms));
    if (
      [report.errors, report.lostWrites, report.twoWriters, report.staleReads, report.verifyDifferences].some(
        (x) => x.length > 0,
      )
    ) {
      process.env.TANDEM_KEEP_TMP ??= '1'; // the logs are the evidence
    }
    await cluster.destroy();
  }
  report.recovery = percentiles(report.faults.map((f) => f.recoveryMs).filter(Number.isFinite));
  report.summary = summarize(report, rounds);
  return report;

  async function verifyRound(r: Round, what = 'read back'): Promise<string[]> {
    const { problems } = await r.writers.verify(
      r.loss ? { floor: (slot) => floorAt(r.writers.acks, slot, Number.POSITIVE_INFINITY, r.loss) } : {},
    );
    return problems.map((p) => `round ${r.n} ${report.faults[r.n]?.kind ?? ''} ${what}: ${p}`);
  }
}

/** Waits until one path is Active/Optimized and the other Active/Non-optimized (in sync). */
async function inSync(mp: MultipathClient, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    await mp.refresh();
    const states = mp.paths.map((p) => p.state);
    if (
      states.includes('active-optimized') &&
      states.every((s) => s === 'active-optimized' || s === 'active-non-optimized')
    )
      return;
    if (performance.now() > deadline)
      throw new Error(`replicas not in sync after ${timeoutMs} ms: ${mp.describeStates()}`);
    await sleep(200);
  }
}

/** SYNCHRONIZE CACHE through the best path; true if GOOD. */
async function flush(mp: MultipathClient): Promise<boolean> {
  try {
    const r = await mp.execute(synchronizeCache10(), { op: 'SYNCHRONIZE CACHE' });
    return r.result.status === Status.GOOD;
  } catch {
    return false;
  }
}

/** The round's load: its writers, a flusher and a stale-read checker. */
function startLoad(mp: MultipathClient, round: Round, report: CampaignReport) {
  let stop = false;
  let flushedAt = Number.NEGATIVE_INFINITY;
  round.writers.start();
  const flusher = (async () => {
    while (!stop) {
      const start = performance.now();
      if (await flush(mp)) flushedAt = Math.max(flushedAt, start);
      await sleep(250);
    }
  })();
  const reader = (async () => {
    let i = 0;
    while (!stop) {
      const acks = round.writers.acks;
      if (acks.length === 0) {
        await sleep(50);
        continue;
      }
      const slot = acks[(i++ * 7919) % acks.length]!.slot;
      const lba = round.writers.lbaOf(slot);
      const start = performance.now();
      try {
        const r = await mp.execute(read16(lba, STAMP_BYTES / 512), {
          op: 'READ',
          expectedDataIn: STAMP_BYTES,
        });
        if (r.result.status !== Status.GOOD) continue;
        const loss = round.loss && round.loss.at < performance.now() ? round.loss : undefined;
        const floor = floorAt(acks, slot, start, loss);
        const got = decodeStamp(r.result.data)?.seq ?? 0;
        if (loss && got >= floor && got < floorAt(acks, slot, start)) {
          round.regressions++;
          report.unflushedLost++;
        }
        if (got < floor)
          report.staleReads.push(
            `round ${round.n}: slot ${slot} read seq ${got} through ${r.path}, ${floor} was acknowledged before the read`,
          );
      } catch {
        if (!stop) await sleep(50); // every path failed for the whole retry window: the writers say so
      }
    }
  })();
  return {
    flushedAt: () => flushedAt,
    async stop() {
      stop = true;
      await Promise.all([round.writers.stop(), flusher, reader]);
    },
  };
}

/** Injects one fault and heals it; returns what it did. */
async function inject(
  kind: FaultKind,
  c: ChaosCluster,
  round: Round,
  at: { at: number; flushedAt: number; now: () => number; primary: string },
  between: (lo: number, hi: number) => number,
  pick: <T>(xs: readonly T[]) => T,
  ttl: number,
): Promise<string> {
  const node = pick(c.names);
  const other = c.names.find((x) => x !== node)!;
  const hold = between(500, (ttl + 2) * 1000);
  switch (kind) {
    case 'sigkill': {
      await c.kill(node);
      const down = between(0, 2000);
      await sleep(down);
      await c.start(node);
      return `${node} down ${Math.round(down)} ms`;
    }
    case 'sigstop':
      c.freeze(node);
      await sleep(hold);
      c.thaw(node);
      return `${node} frozen ${Math.round(hold)} ms`;
    case 'power-one': {
      const subset = between(0, 1) < 0.5 ? { seed: Math.floor(between(1, 2 ** 31)), pct: 50 } : undefined;
      const lost = await c.powerCut([node], subset);
      await sleep(between(0, 1500));
      await c.start(node);
      return `${node}: ${lost[node]} unflushed pages lost${subset ? ' (a random half)' : ''}`;
    }
    case 'power-both': {
      const subset = between(0, 1) < 0.5 ? { seed: Math.floor(between(1, 2 ** 31)), pct: 50 } : undefined;
      round.loss = { at: at.at, flushedAt: at.flushedAt };
      const lost = await c.powerCut(c.names, subset);
      await sleep(between(0, 1500));
      await Promise.all(c.names.map((n) => c.start(n)));
      const pages = Object.entries(lost).map(([n, p]) => `${n} ${p}`);
      return `unflushed pages lost: ${pages.join(', ')}${subset ? ' (a random half)' : ''}`;
    }
    case 'partition-nodes': {
      const dirs = pick([[`${node}->${other}`], [`${node}->${other}`, `${other}->${node}`]]);
      for (const d of dirs) c.net.cut(...(d.split('->') as [string, string]));
      await sleep(hold);
      c.net.healAll();
      return `${dirs.join(' + ')} for ${Math.round(hold)} ms`;
    }
    case 'partition-etcd': {
      const dirs = pick([[`${node}->etcd`], [`etcd->${node}`], [`${node}->etcd`, `etcd->${node}`]]);
      for (const d of dirs) c.net.cut(...(d.split('->') as [string, string]));
      await sleep(hold);
      c.net.healAll();
      return `${dirs.join(' + ')} for ${Math.round(hold)} ms`;
    }
    case 'power-cascade': {
      // Two faults before the replicas are in sync again: the replica's power, then, while it is
      // resynced (or soon after), the primary's. Writes acknowledged while the replica was out
      // of sync were on the primary alone: only what was flushed before the second cut must
      // survive; the replica, out of the in-sync set, must wait for the primary to return.
      const primary = c.names.includes(at.primary) ? at.primary : node;
      const replica = c.names.find((x) => x !== primary)!;
      const first = await c.powerCut([replica]);
      await c.start(replica);
      const gap = between(0, 1500);
      await sleep(gap);
      round.loss = { at: performance.now(), flushedAt: at.now() };
      const second = await c.powerCut([primary]);
      await sleep(between(0, 1000));
      await c.start(primary);
      return `${replica} (${first[replica]} pages), restarted, ${Math.round(gap)} ms later ${primary} (${second[primary]} pages)`;
    }
    case 'etcd-kill': {
      await c.killEtcd();
      await sleep(hold);
      await c.startEtcd();
      return `etcd down ${Math.round(hold)} ms`;
    }
  }
}

/** `tandemctl verify` through the primary's admin endpoint; the differing regions, if any. */
async function verifyReplicas(c: ChaosCluster, mp: MultipathClient): Promise<string[]> {
  const primary = mp.paths.find((p) => p.state === 'active-optimized')?.name ?? c.names[0]!;
  const r = await tandemctl(c.admin(primary), ['--tls-dir', c.tlsDir, '--json', 'verify', VOLUME], 120_000);
  if (r.code === 0) return [];
  try {
    const v = JSON.parse(r.stdout) as {
      differing: Array<{ node: string; offset: unknown; length: unknown }>;
    };
    if (r.code === 3) return v.differing.map((d) => `${d.node} differs at ${d.offset}+${d.length}`);
  } catch {
    // not JSON: the error below
  }
  return [`verify exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`];
}

/** The longest gap between acknowledgements from `at` on (from `at` to the first one included). */
function longestStall(acks: AckRecord[], at: number): number {
  const ends = acks
    .map((a) => a.end)
    .filter((e) => e > at)
    .sort((x, y) => x - y);
  let prev = at;
  let worst = 0;
  for (const e of ends) {
    worst = Math.max(worst, e - prev);
    prev = e;
  }
  return ends.length ? worst : Number.NaN;
}

function summarize(r: CampaignReport, rounds: Round[]): string {
  const per = (k: string, f: (x: FaultRecord) => number = (x) => x.recoveryMs) =>
    percentiles(
      r.faults
        .filter((x) => k === '' || x.kind === k)
        .map(f)
        .filter(Number.isFinite),
    );
  const stall = (x: FaultRecord) => x.stallMs;
  const fmt = (p: { n: number; p50: number; p99: number; max: number }) =>
    `p50 ${Math.round(p.p50)} / p99 ${Math.round(p.p99)} / max ${Math.round(p.max)} ms`;
  const acks = rounds.reduce((s, x) => s + x.writers.acks.length, 0);
  const lines = [
    `chaos: seed ${r.seed}, ${r.faults.length} faults, ${acks} writes acknowledged`,
    ...Object.keys(r.counts)
      .sort()
      .map(
        (k) =>
          `  ${k.padEnd(16)} ${String(r.counts[k]).padStart(4)}   fault to first acknowledged write: ${fmt(per(k))}; longest stall: ${fmt(per(k, stall))}`,
      ),
    `  all faults: fault to first acknowledged write ${fmt(r.recovery)}; longest stall ${fmt(per('', stall))}`,
    `  reads that found an acknowledged, unflushed write gone after a power cut of both nodes (allowed): ${r.unflushedLost}`,
    `  a thawed primary's logged term overlapped its successor's (excused, within ${THAW_GRACE_MS} ms of the thaw): ${r.thawOverlapsMs.length ? `${r.thawOverlapsMs.length} times, max ${Math.max(...r.thawOverlapsMs)} ms` : 'never'}`,
    `  lost writes ${r.lostWrites.length}, stale reads ${r.staleReads.length}, two-writer windows ${r.twoWriters.length ? r.twoWriters.length - 1 : 0}, verify differences ${r.verifyDifferences.length}, errors ${r.errors.length}`,
  ];
  for (const [what, xs] of [
    ['lost', r.lostWrites],
    ['stale', r.staleReads],
    ['two writers', r.twoWriters],
    ['verify', r.verifyDifferences],
    ['error', r.errors],
  ] as const) {
    for (const x of xs.slice(0, 10)) lines.push(`  ${what}: ${x}`);
  }
  return lines.join('\n');
}
