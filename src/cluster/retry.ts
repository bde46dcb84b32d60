import { ExponentialBackoff, noop } from 'cockatiel';
import { EtcdLeaseInvalidError, type IOptions, isRecoverableError } from 'etcd3';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

/**
 * THE retry policy of the cluster layer (STYLE.md: one place). etcd3's own retry and circuit
 * breaker are switched off (a breaker that stays open for 5 s after etcd comes back would delay
 * every failover by as much); every call has a deadline, and callers that must keep trying go
 * through `withRetry` (one-shot operations) or `backoffDelay` (long-running loops: the session,
 * campaigns, watch re-lists). etcd3 resumes broken watch streams itself, with this backoff.
 */
export const RETRY_POLICY = {
  /** Deadline of every unary etcd call. Below the fencing window so no call outlives a term. */
  callTimeoutMs: 2000,
  initialDelayMs: 50,
  maxDelayMs: 1000,
  multiplier: 2,
  /** ± this fraction of the delay, so that nodes do not retry in lockstep. */
  jitter: 0.2,
  /** Default overall deadline of `withRetry`. */
  deadlineMs: 10_000,
} as const;

/** Options for `new Etcd3(...)` that hand fault handling to this module. */
export function etcdFaultOptions(
  callTimeoutMs: number = RETRY_POLICY.callTimeoutMs,
): Pick<IOptions, 'faultHandling' | 'defaultCallOptions' | 'dialTimeout'> {
  return {
    dialTimeout: callTimeoutMs,
    // Streams (watch, keep-alive) live as long as they are needed; unary calls get a deadline.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: new Date(Date.now() + callTimeoutMs) }),
    faultHandling: {
      host: () => noop,
      global: noop,
      // etcd3 calls next() on this for the first delay, as on a factory.
      watchBackoff: new ExponentialBackoff({
        initialDelay: RETRY_POLICY.initialDelayMs,
        maxDelay: RETRY_POLICY.maxDelayMs,
      }).next(),
    },
  };
}

const TRANSIENT_MESSAGES =
  /leader changed|no leader|request timed out|too many requests|connection|unavailable|deadline/i;

/** Whether an error from etcd (or from this layer) is worth retrying. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof TandemError) return err.retryable;
  if (err instanceof EtcdLeaseInvalidError) return false;
  if (err instanceof Error) {
    if (isRecoverableError(err)) return true;
    return TRANSIENT_MESSAGES.test(err.message);
  }
  return false;
}

/** Turns whatever a call threw into a TandemError (kept as is if it already is one). */
export function toClusterError(err: unknown, what: string): TandemError {
  if (err instanceof TandemError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', `${what}: ${message}`, {
    cause: err,
    retryable: isRetryable(err),
  });
}

/** Delay before retry number `attempt` (0-based): exponential, capped, jittered. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(
    RETRY_POLICY.maxDelayMs,
    RETRY_POLICY.initialDelayMs * RETRY_POLICY.multiplier ** attempt,
  );
  const spread = base * RETRY_POLICY.jitter;
  return Math.max(0, Math.round(base - spread + 2 * spread * random()));
}

/** Resolves after `ms`, or rejects (TANDEM_ERR_CLUSTER_CLOSED) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortError(signal: AbortSignal): TandemError {
  const reason: unknown = signal.reason;
  if (reason instanceof TandemError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'no live etcd session before the deadline', {
      cause: reason,
      retryable: true,
    });
  }
  return new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'cluster operation aborted', { cause: reason });
}

export interface RetryOptions {
  readonly signal?: AbortSignal;
  /** Give up (rethrow the last error) after this long. Default RETRY_POLICY.deadlineMs. */
  readonly deadlineMs?: number;
  readonly logger?: Logger;
}

/**
 * Runs `fn` until it succeeds, throws a non-retryable error, the deadline passes or `signal`
 * aborts. Only use it for idempotent operations (reads, compare-and-set transactions whose
 * outcome the caller re-checks).
 */
export async function withRetry<T>(what: string, fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.deadlineMs ?? RETRY_POLICY.deadlineMs);
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    try {
      return await fn();
    } catch (err) {
      const error = toClusterError(err, what);
      const delay = backoffDelay(attempt);
      if (!error.retryable || Date.now() + delay >= deadline) throw error;
      opts.logger?.debug({ err: error, attempt, delayMs: delay }, `${what}: retrying`);
      await sleep(delay, opts.signal);
    }
  }
}
