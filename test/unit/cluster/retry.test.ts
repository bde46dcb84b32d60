// The cluster layer's one retry policy: which errors are retried, how long it waits, when it stops.
import { GRPCDeadlineExceededError, GRPCInvalidArgumentError, GRPCUnavailableError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { backoffDelay, isRetryable, RETRY_POLICY, withRetry } from '../../../src/cluster/retry.js';
import { TandemError } from '../../../src/util/errors.js';

describe('isRetryable', () => {
  it('retries transport failures and TandemErrors marked retryable, nothing else', () => {
    expect(isRetryable(new GRPCUnavailableError('down'))).toBe(true);
    expect(isRetryable(new GRPCDeadlineExceededError('slow'))).toBe(true);
    expect(isRetryable(new Error('etcdserver: leader changed'))).toBe(true);
    expect(isRetryable(new GRPCInvalidArgumentError('bad'))).toBe(false);
    expect(isRetryable(new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'x', { retryable: true }))).toBe(
      true,
    );
    expect(isRetryable(new TandemError('TANDEM_ERR_CLUSTER_NOT_LEADER', 'x'))).toBe(false);
    expect(isRetryable('a string')).toBe(false);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially from 50 ms, caps at 1 s, jitters ±20 %', () => {
    expect(backoffDelay(0, () => 0.5)).toBe(50);
    expect(backoffDelay(1, () => 0.5)).toBe(100);
    expect(backoffDelay(4, () => 0.5)).toBe(800);
    expect(backoffDelay(5, () => 0.5)).toBe(1000);
    expect(backoffDelay(50, () => 0.5)).toBe(1000);
    for (let a = 0; a < 12; a++) {
      const base = Math.min(RETRY_POLICY.maxDelayMs, RETRY_POLICY.initialDelayMs * 2 ** a);
      expect(backoffDelay(a, () => 0)).toBe(Math.round(base * 0.8));
      expect(backoffDelay(a, () => 1)).toBe(Math.round(base * 1.2));
    }
  });
});

describe('withRetry', () => {
  it('retries retryable failures until success', async () => {
    let calls = 0;
    const v = await withRetry('op', async () => {
      if (++calls < 3) throw new GRPCUnavailableError('down');
      return 42;
    });
    expect(v).toBe(42);
    expect(calls).toBe(3);
  });

  it('throws a non-retryable failure at once, as a TandemError with its cause', async () => {
    let calls = 0;
    const cause = new GRPCInvalidArgumentError('bad');
    const err = await withRetry('op', async () => {
      calls++;
      throw cause;
    }).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(err).toMatchObject({ code: 'TANDEM_ERR_CLUSTER_UNAVAILABLE', retryable: false, cause });
  });

  it('gives up at the deadline with a retryable TANDEM_ERR_CLUSTER_UNAVAILABLE', async () => {
    const started = Date.now();
    const err = await withRetry(
      'op',
      async () => {
        throw new GRPCUnavailableError('down');
      },
      { deadlineMs: 300 },
    ).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(600);
    expect(err).toMatchObject({ code: 'TANDEM_ERR_CLUSTER_UNAVAILABLE', retryable: true });
  });

  it('stops when its signal aborts', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await withRetry(
      'op',
      async () => {
        throw new GRPCUnavailableError('down');
      },
      { signal: ac.signal, deadlineMs: 60_000 },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TANDEM_ERR_CLUSTER_CLOSED' });
  });
});
