// The chaos campaign's judgements (test/chaos/checks.ts) on hand-made logs: they must be able to
// fail, or a clean campaign proves nothing.
import { describe, expect, it } from 'vitest';
import type { LogLine } from '../helpers/daemon.js';
import type { AckRecord } from '../helpers/write-log.js';
import type { ProcessLife } from './chaos-cluster.js';
import { floorAt, percentiles, terms, twoWriterWindows } from './checks.js';

const el = (pid: number, time: number, from: string, to: string): LogLine => ({
  level: 30,
  time,
  pid,
  msg: `election: ${from} -> ${to}`,
  volume: 'vol0',
  from,
  to,
});

describe('terms and two-writer windows', () => {
  it('a killed primary’s term ends at the kill, not at its restart', () => {
    const lives: ProcessLife[] = [
      { node: 'a', pid: 1, started: 0, ended: 1000, frozen: [] },
      { node: 'a', pid: 3, started: 5000, frozen: [] },
      { node: 'b', pid: 2, started: 0, frozen: [] },
    ];
    const logs = {
      a: [el(1, 100, 'candidate', 'leader'), el(3, 5100, 'idle', 'follower')],
      b: [el(2, 4000, 'candidate', 'leader')],
    };
    const ts = terms(logs, lives, 'vol0');
    expect(ts.map((t) => [t.node, t.from, t.to])).toEqual([
      ['a', 100, 1000],
      ['b', 4000, Number.POSITIVE_INFINITY],
    ]);
    expect(twoWriterWindows(ts, lives, 0)).toEqual([]);
  });

  it('finds an overlap of two running primaries', () => {
    const lives: ProcessLife[] = [
      { node: 'a', pid: 1, started: 0, frozen: [] },
      { node: 'b', pid: 2, started: 0, frozen: [] },
    ];
    const logs = {
      a: [el(1, 100, 'candidate', 'leader'), el(1, 3000, 'leader', 'follower')],
      b: [el(2, 2500, 'candidate', 'leader')],
    };
    const w = twoWriterWindows(terms(logs, lives, 'vol0'), lives, 0);
    expect(w.map((x) => [x.a.node, x.b.node, x.ms])).toEqual([['a', 'b', 500]]);
  });

  it('a frozen primary’s time does not count, nor the grace after its thaw; more does', () => {
    const lives: ProcessLife[] = [
      { node: 'a', pid: 1, started: 0, frozen: [[1000, 6000]] },
      { node: 'b', pid: 2, started: 0, frozen: [] },
    ];
    const logs = {
      a: [el(1, 100, 'candidate', 'leader'), el(1, 6300, 'leader', 'follower')],
      b: [el(2, 4500, 'candidate', 'leader')],
    };
    const ts = terms(logs, lives, 'vol0');
    expect(twoWriterWindows(ts, lives, 500)).toEqual([]);
    expect(twoWriterWindows(ts, lives, 100).map((x) => x.ms)).toEqual([200]);
  });
});

describe('floorAt', () => {
  const ack = (slot: number, seq: number, start: number, end: number): AckRecord => ({
    slot,
    seq,
    path: 'a',
    start,
    end,
  });
  const acks = [ack(0, 1, 0, 10), ack(0, 17, 20, 30), ack(0, 33, 50, 60), ack(1, 2, 0, 5)];

  it('is the last write acknowledged before the time', () => {
    expect(floorAt(acks, 0, 25)).toBe(1);
    expect(floorAt(acks, 0, 100)).toBe(33);
    expect(floorAt(acks, 2, 100)).toBe(0);
  });

  it('after a loss of every replica, counts only what was flushed before it or written after', () => {
    // Flushed: writes acknowledged before 15 (a SYNCHRONIZE CACHE started then returned GOOD).
    expect(floorAt(acks, 0, 100, { at: 40, flushedAt: 15 })).toBe(33);
    expect(floorAt(acks, 0, 45, { at: 40, flushedAt: 15 })).toBe(1);
    expect(floorAt(acks, 0, 100, { at: 55, flushedAt: 15 })).toBe(1);
  });
});

it('percentiles by nearest rank', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  expect(percentiles(xs)).toEqual({ n: 100, p50: 50, p99: 99, max: 100 });
  expect(percentiles([7])).toEqual({ n: 1, p50: 7, p99: 7, max: 7 });
});
