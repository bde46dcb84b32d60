// ColdCachePolicy: after a page-cache miss, reads probe before they try inline (or, without a
// probe, go to the thread pool for a while), on a fake clock.
import { describe, expect, it } from 'vitest';
import { ColdCachePolicy } from '../../../src/backstore/cold-cache.js';

describe('ColdCachePolicy', () => {
  it('warm: inline straight away, however many hits', () => {
    const p = new ColdCachePolicy(true);
    for (let i = 0; i < 1000; i++) {
      expect(p.route()).toBe('inline');
      p.hit();
    }
    expect(p.cold).toBe(false);
  });

  it('a miss makes reads probe until warmAfter probed hits in a row; a miss in between starts the count again', () => {
    const p = new ColdCachePolicy(true, { warmAfter: 4 });
    p.miss();
    expect(p.route()).toBe('probe');
    for (let i = 0; i < 3; i++) p.hit();
    expect(p.route()).toBe('probe');
    p.miss();
    for (let i = 0; i < 3; i++) p.hit();
    expect(p.route()).toBe('probe');
    p.hit();
    expect(p.route()).toBe('inline');
    expect(p.cold).toBe(false);
  });

  it('without a probe: the pool for retryMs after a miss, then one inline try; a hit makes it warm', () => {
    const clock = { t: 0 };
    const p = new ColdCachePolicy(false, { retryMs: 250, now: () => clock.t });
    p.miss();
    expect(p.route()).toBe('pool');
    clock.t = 249;
    expect(p.route()).toBe('pool');
    clock.t = 250;
    expect(p.route()).toBe('inline');
    p.miss(); // the try missed: another interval
    clock.t = 400;
    expect(p.route()).toBe('pool');
    clock.t = 500;
    expect(p.route()).toBe('inline');
    p.hit();
    expect(p.cold).toBe(false);
    expect(p.route()).toBe('inline');
  });

  it('a probe that turns out unavailable falls back to the retry interval', () => {
    const clock = { t: 0 };
    const p = new ColdCachePolicy(true, { retryMs: 100, now: () => clock.t });
    p.miss();
    expect(p.route()).toBe('probe');
    p.probeUnavailable();
    p.miss();
    expect(p.route()).toBe('pool');
    clock.t = 100;
    expect(p.route()).toBe('inline');
  });
});
