// The chaos campaign's judgements that need no cluster: who was primary when (per process, from
// the nodes' logs), the windows with two writers, and the latency summary.
import type { LogLine } from '../helpers/daemon.js';
import type { AckRecord } from '../helpers/write-log.js';
import type { ProcessLife } from './chaos-cluster.js';

export interface Term {
  node: string;
  pid: number;
  /** Wall clock (ms). */
  from: number;
  to: number;
  end: string;
}

/**
 * Primary terms of `volume`, per process: test/helpers/cluster.ts `leadership` reads one log per
 * node as one life, so a SIGKILLed primary's term (it never logs its end) would stay open across
 * its restart; here a term ends at the latest when its process was killed.
 */
export function terms(logs: Record<string, LogLine[]>, lives: ProcessLife[], volume: string): Term[] {
  const out: Term[] = [];
  for (const life of lives) {
    let start: number | undefined;
    for (const l of logs[life.node] ?? []) {
      if (l.pid !== life.pid || typeof l.msg !== 'string' || !l.msg.startsWith('election:')) continue;
      if (l.volume !== volume) continue;
      if (l.to === 'leader') start = l.time;
      else if (l.from === 'leader' && start !== undefined) {
        out.push({
          node: life.node,
          pid: life.pid,
          from: start,
          to: l.time,
          end: `${l.to} (${String(l.reason ?? '')})`,
        });
        start = undefined;
      }
    }
    if (start !== undefined) {
      const to = life.ended ?? Number.POSITIVE_INFINITY;
      out.push({
        node: life.node,
        pid: life.pid,
        from: start,
        to,
        end: life.ended ? 'killed' : 'still leader',
      });
    }
  }
  return out.sort((x, y) => x.from - y.from);
}

export function describeTerms(ts: Term[]): string {
  return ts
    .map(
      (t) =>
        `${t.node} (pid ${t.pid}): ${new Date(t.from).toISOString()} .. ${Number.isFinite(t.to) ? new Date(t.to).toISOString() : 'now'} (${t.end})`,
    )
    .join('\n');
}

/** Intervals [from, to) minus the given ones. */
function subtract(spans: Array<[number, number]>, holes: Array<[number, number]>): Array<[number, number]> {
  let parts = spans;
  for (const [hs, he] of holes) {
    const next: Array<[number, number]> = [];
    for (const [s, e] of parts) {
      if (he <= s || hs >= e) next.push([s, e]);
      else {
        if (hs > s) next.push([s, hs]);
        if (he < e) next.push([he, e]);
      }
    }
    parts = next;
  }
  return parts;
}

export interface TwoWriterWindow {
  a: Term;
  b: Term;
  /** Wall-clock overlap, ms, while neither was frozen. */
  ms: number;
}

/**
 * Windows in which two processes both held the primary role. A frozen (SIGSTOP) primary logs the
 * end of its term only after it thaws, though it fenced itself on its monotonic clock while it
 * could run nothing: its frozen time does not count, nor `thawGraceMs` after the thaw (what it
 * takes to run the fence check it missed and log it; the write log shows it acknowledged nothing).
 */
export function twoWriterWindows(ts: Term[], lives: ProcessLife[], thawGraceMs: number): TwoWriterWindow[] {
  const frozen = (t: Term): Array<[number, number]> =>
    (lives.find((l) => l.pid === t.pid && l.node === t.node)?.frozen ?? []).map(([s, e]) => [
      s,
      Number.isFinite(e) ? e + thawGraceMs : e,
    ]);
  const out: TwoWriterWindow[] = [];
  for (let i = 0; i < ts.length; i++) {
    for (let j = i + 1; j < ts.length; j++) {
      const a = ts[i]!;
      const b = ts[j]!;
      if (a.node === b.node) continue;
      const s = Math.max(a.from, b.from);
      const e = Math.min(a.to, b.to);
      if (e <= s) continue;
      const left = subtract(subtract([[s, e]], frozen(a)), frozen(b));
      const ms = left.reduce((sum, [x, y]) => sum + (y - x), 0);
      if (ms > 0) out.push({ a, b, ms });
    }
  }
  return out;
}

/** p50 / p99 / max of a list (nearest rank). */
export function percentiles(xs: number[]): { n: number; p50: number; p99: number; max: number } {
  if (xs.length === 0) return { n: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const s = [...xs].sort((x, y) => x - y);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1]! };
}

/**
 * Per slot, what a read must at least return at time `t` (performance.now()): the last write of
 * the slot acknowledged before t, except that if every replica lost power at `lossAt`, a write
 * acknowledged before the cut counts only if a SYNCHRONIZE CACHE that started after its
 * acknowledgement returned GOOD before the cut (`flushedAt`: that command's start).
 */
export function floorAt(
  acks: AckRecord[],
  slot: number,
  t: number,
  loss?: { at: number; flushedAt: number },
): number {
  let floor = 0;
  for (const a of acks) {
    if (a.slot !== slot || a.end >= t) continue;
    if (loss && a.start <= loss.at && a.end >= loss.flushedAt) continue;
    if (a.seq > floor) floor = a.seq;
  }
  return floor;
}
