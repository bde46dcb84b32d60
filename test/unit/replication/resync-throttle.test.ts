// Issue 15: the resync throttle — pacing at the limit with no burst after idle, a live change,
// and the yield to application I/O (extra workers pause, the first waits for an idle moment).
import { describe, expect, it } from 'vitest';
import { ResyncProgress, ResyncThrottle, YIELD_MAX_MS } from '../../../src/replication/resync-throttle.js';

const MiB = 1 << 20;
const never = () => false;

describe('ResyncThrottle', () => {
  it('paces chunks at the limit, from the first one (no burst), and follows a change at once', async () => {
    const t = new ResyncThrottle();
    t.setRate(50 * MiB);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) await t.before(0, MiB, never);
    const ms = performance.now() - t0;
    // 10 MiB at 50 MiB/s: the 10th chunk may go at 9 × 20 ms.
    expect(ms).toBeGreaterThanOrEqual(9 * 20 - 5);
    expect(ms).toBeLessThan(9 * 20 + 120);
    t.setRate(0);
    const t1 = performance.now();
    for (let i = 0; i < 10; i++) await t.before(0, MiB, never);
    expect(performance.now() - t1).toBeLessThan(20);
  });

  it('while application I/O is in flight, extra workers wait for it and the first waits at most YIELD_MAX_MS', async () => {
    const t = new ResyncThrottle();
    t.appStarted();
    expect(t.appBusy).toBe(true);
    let second = false;
    const w1 = t.before(1, MiB, never).then(() => {
      second = true;
    });
    const t0 = performance.now();
    await t.before(0, MiB, never);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(YIELD_MAX_MS - 2);
    expect(waited).toBeLessThan(YIELD_MAX_MS + 60);
    await new Promise((r) => setTimeout(r, 3 * YIELD_MAX_MS));
    expect(second).toBe(false);
    t.appDone();
    await w1;
    expect(second).toBe(true);
    // Idle: no wait at all once the quiet time has passed.
    await new Promise((r) => setTimeout(r, 10));
    const t1 = performance.now();
    await t.before(0, MiB, never);
    await t.before(1, MiB, never);
    expect(performance.now() - t1).toBeLessThan(20);
  });

  it('the first worker goes as soon as the application I/O in flight ends', async () => {
    const t = new ResyncThrottle();
    t.appStarted();
    setTimeout(() => t.appDone(), 5);
    const t0 = performance.now();
    await t.before(0, MiB, never);
    expect(performance.now() - t0).toBeLessThan(YIELD_MAX_MS);
  });
});

describe('ResyncProgress', () => {
  it('reports the rate over its window', () => {
    const p = new ResyncProgress();
    p.reset(0);
    for (let s = 1; s <= 10; s++) p.sample(s * 10 * MiB, s * 1000);
    // The last 5 s: 50 MiB.
    expect(p.rate(10_000) / MiB).toBeCloseTo(10, 0);
  });
});
