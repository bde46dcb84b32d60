// The self-fencing window (safety rule 4): the policy's arithmetic for every allowed TTL, and
// the renewal clock measured from keep-alive SEND times on a fake monotonic clock.
import { describe, expect, it } from 'vitest';
import { fencingPolicy, RenewalClock } from '../../../src/cluster/fencing.js';

describe('fencingPolicy', () => {
  it('defaults to TTL 5 s: keep-alive every 500 ms, serving stops 3.5 s after the last confirmed send', () => {
    expect(fencingPolicy()).toEqual({
      ttlMs: 5000,
      keepAliveIntervalMs: 500,
      marginMs: 1500,
      fenceAfterMs: 3500,
    });
  });

  it('leaves at least 1 s (or 30 % of the TTL) and two keep-alive intervals for every TTL 2..600 s', () => {
    for (let ttl = 2; ttl <= 600; ttl++) {
      const p = fencingPolicy(ttl);
      expect(p.ttlMs).toBe(ttl * 1000);
      expect(p.marginMs).toBeGreaterThanOrEqual(Math.max(1000, 0.3 * p.ttlMs));
      expect(p.fenceAfterMs + p.marginMs).toBe(p.ttlMs);
      expect(p.fenceAfterMs).toBeGreaterThanOrEqual(2 * p.keepAliveIntervalMs);
    }
  });

  it('rejects TTLs etcd cannot honour and margins that do not fit', () => {
    for (const ttl of [0, 1, 1.5, -5, 3601, Number.NaN]) {
      expect(() => fencingPolicy(ttl)).toThrow(
        expect.objectContaining({ code: 'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT' }),
      );
    }
    expect(() => fencingPolicy(5, 4500)).toThrow(
      expect.objectContaining({ code: 'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT' }),
    );
    expect(() => fencingPolicy(5, 50)).toThrow(
      expect.objectContaining({ code: 'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT' }),
    );
    expect(fencingPolicy(5, 2000).fenceAfterMs).toBe(3000);
  });
});

describe('RenewalClock', () => {
  const policy = fencingPolicy(5);
  const fake = () => {
    let t = 1000;
    const clock = new RenewalClock(policy, () => t);
    return { clock, advance: (ms: number) => void (t += ms), now: () => t };
  };

  it('is stale before any grant', () => {
    expect(fake().clock.fresh()).toBe(false);
  });

  it('counts from the grant request send time, not from its answer', () => {
    const { clock, advance, now } = fake();
    const sentAt = now();
    advance(300); // the grant's answer took 300 ms
    clock.granted(sentAt);
    expect(clock.deadline()).toBe(sentAt + 3500);
    advance(3199);
    expect(clock.fresh()).toBe(true);
    advance(1);
    expect(clock.fresh()).toBe(false);
  });

  it('extends the deadline to send time + fenceAfter of each answered keep-alive, in order', () => {
    const { clock, advance, now } = fake();
    clock.granted(now());
    advance(500);
    const s1 = clock.sent();
    advance(500);
    const s2 = clock.sent();
    advance(900); // both answers arrive late, together
    expect(clock.outstanding()).toBe(2);
    expect(clock.confirmed()).toBe(true);
    expect(clock.deadline()).toBe(s1 + 3500);
    expect(clock.confirmed()).toBe(true);
    expect(clock.deadline()).toBe(s2 + 3500);
    expect(clock.lastConfirmedSentAt()).toBe(s2);
  });

  it('refuses a late answer once the deadline has passed: a stale term stays over', () => {
    const { clock, advance, now } = fake();
    clock.granted(now());
    advance(3400);
    clock.sent(); // sent while still fresh…
    advance(200); // …answered after the deadline
    expect(clock.fresh()).toBe(false);
    expect(clock.confirmed()).toBe(false);
    expect(clock.fresh()).toBe(false);
  });

  it('forgets outstanding sends when the stream is replaced', () => {
    const { clock, advance, now } = fake();
    clock.granted(now());
    clock.sent();
    clock.sent();
    clock.streamReset();
    expect(clock.outstanding()).toBe(0);
    advance(100);
    const s = clock.sent();
    expect(clock.confirmed()).toBe(true);
    expect(clock.lastConfirmedSentAt()).toBe(s);
  });
});
