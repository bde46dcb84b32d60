// InlineWritePolicy: when a FileDevice may write on the event loop, on a fake clock.
import { describe, expect, it } from 'vitest';
import { InlineWritePolicy } from '../../../src/backstore/inline-writes.js';

function policy(maxBackoffMs = 8000) {
  const clock = { t: 0 };
  const p = new InlineWritePolicy({ slowMs: 2, backoffMs: 1000, maxBackoffMs, now: () => clock.t });
  /** One inline write that takes `ms`; returns what done() said. */
  const write = (ms: number) => {
    expect(p.inline).toBe(true);
    const started = p.now();
    clock.t += ms;
    return p.done(started);
  };
  return { p, clock, write };
}

describe('InlineWritePolicy', () => {
  it('fast writes keep writes inline', () => {
    const { p, write } = policy();
    for (let i = 0; i < 100; i++) expect(write(1.5)).toBe(0);
    expect(p.inline).toBe(true);
  });

  it('a write exactly at the threshold is fast; just above it is slow', () => {
    const { p, write } = policy();
    expect(write(2)).toBe(0);
    expect(write(2.01)).toBe(1000);
    expect(p.inline).toBe(false);
  });

  it('a slow write turns inline off for the backoff, which doubles while the first write after it is slow, up to the cap', () => {
    const { p, clock, write } = policy();
    const backoffs: number[] = [];
    for (let i = 0; i < 6; i++) {
      const b = write(300);
      backoffs.push(b);
      clock.t += b - 1;
      expect(p.inline, `still off 1 ms before the end of backoff ${b}`).toBe(false);
      clock.t += 1;
    }
    expect(backoffs).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('one fast write after a backoff resets it', () => {
    const { clock, write } = policy();
    const first = write(300);
    clock.t += first;
    const second = write(300);
    expect(second).toBe(2000);
    clock.t += second;
    expect(write(0.5)).toBe(0);
    expect(write(300)).toBe(1000);
  });

  it('slowInRow: only that many slow calls in a row back off; a fast one in between starts again', () => {
    const clock = { t: 0 };
    const p = new InlineWritePolicy({ slowMs: 2, backoffMs: 1000, slowInRow: 2, now: () => clock.t });
    const call = (ms: number) => {
      const started = p.now();
      clock.t += ms;
      return p.done(started);
    };
    expect(call(5)).toBe(0);
    expect(call(1)).toBe(0);
    expect(call(5)).toBe(0);
    expect(p.inline).toBe(true);
    expect(call(5)).toBe(1000);
    expect(p.inline).toBe(false);
    clock.t += 1000;
    expect(call(5)).toBe(0); // the first slow one after the backoff: not yet
    expect(call(5)).toBe(2000); // slow again right after a backoff: it doubles
  });
});
