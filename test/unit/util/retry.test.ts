// THE retry policy: cockatiel's exponential backoff with ±jitter, a deadline, an abort signal,
// and a caller's retryability predicate (no error codes known here).
import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, sleep, withRetry } from '../../../src/util/retry.js';

const policy = { initialDelayMs: 10, maxDelayMs: 80, multiplier: 2, jitter: 0.5, deadlineMs: 1000 };

describe('Backoff', () => {
  it('yields the policy delays in order, capped, and starts over after reset()', () => {
    const b = new Backoff(policy, () => 0.5);
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([10, 20, 40, 80, 80]);
    b.reset();
    expect(b.next()).toBe(10);
    expect(backoffDelay(policy, 1, () => 0)).toBe(10);
    expect(backoffDelay(policy, 1, () => 1)).toBe(30);
  });
});

describe('withRetry', () => {
  it('retries what the predicate calls retryable, and stops at the first that it does not', async () => {
    let calls = 0;
    const err = await withRetry(
      'op',
      async () => {
        calls++;
        throw new Error(calls < 3 ? 'transient' : 'fatal');
      },
      { policy, retryable: (e) => (e as Error).message === 'transient' },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect((err as Error).message).toBe('fatal');
  });

  it('hands the converted error to the predicate and rethrows it', async () => {
    const err = await withRetry(
      'op',
      async () => {
        throw new Error('x');
      },
      { policy, retryable: () => false, toError: (e) => ({ wrapped: e }) },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ wrapped: expect.any(Error) });
  });

  it('gives up once the next delay would pass the deadline, reporting each retry', async () => {
    const delays: number[] = [];
    const started = Date.now();
    await withRetry(
      'op',
      async () => {
        throw new Error('down');
      },
      {
        policy,
        deadlineMs: 100,
        retryable: () => true,
        random: () => 0.5,
        onRetry: (_e, _a, d) => delays.push(d),
      },
    ).catch(() => undefined);
    expect(delays.slice(0, 3)).toEqual([10, 20, 40]);
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('gives up after maxAttempts calls with the last error, waiting between them only', async () => {
    let calls = 0;
    const delays: number[] = [];
    const err = await withRetry(
      'op',
      async () => {
        throw new Error(`down ${++calls}`);
      },
      {
        policy,
        deadlineMs: Number.POSITIVE_INFINITY,
        maxAttempts: 3,
        retryable: () => true,
        random: () => 0.5,
        onRetry: (_e, _a, d) => delays.push(d),
      },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(delays).toEqual([10, 20]);
    expect((err as Error).message).toBe('down 3');
  });

  it('rejects with the abort error when the signal aborts during a wait', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 30);
    const err = await withRetry(
      'op',
      async () => {
        throw new Error('down');
      },
      {
        policy: { ...policy, initialDelayMs: 10_000, maxDelayMs: 10_000, deadlineMs: 60_000 },
        retryable: () => true,
        signal: ac.signal,
      },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('stop');
  });

  it('sleep resolves after the delay and rejects at once on an aborted signal', async () => {
    await sleep(5);
    await expect(sleep(5, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });
});
