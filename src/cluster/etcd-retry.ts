import { noop } from 'cockatiel';
import {
  castGrpcError,
  EtcdError,
  GRPCAbortedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCInternalError,
  GRPCResourceExhastedError,
  GRPCUnavailableError,
  GRPCUnknownError,
  type IOptions,
} from 'etcd3';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import {
  Backoff,
  exponentialBackoff,
  backoffDelay as policyDelay,
  type RetryPolicy,
  withRetry as retryWith,
  sleep as sleepFor,
} from '../util/retry.js';

/**
 * The cluster layer's binding of THE retry policy (src/util/retry.ts) to etcd: its numbers, which
 * etcd errors are retried, and the error codes a give-up or an abort carries. etcd3's own retry
 * and circuit breaker are switched off (a breaker that stays open for 5 s after etcd comes back
 * would delay every failover by as much); every call has a deadline, and callers that must keep
 * trying go through `withRetry` (one-shot operations) or a `clusterBackoff()` (long-running
 * loops: the session, campaigns, watch re-lists). etcd3 resumes broken watch streams itself,
 * with this backoff.
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
} as const satisfies RetryPolicy & { callTimeoutMs: number };

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
      // etcd3 calls next() on this for the first delay, as on a factory. The policy's delays
      // (cockatiel's default generator would jitter differently from every other cluster loop).
      watchBackoff: exponentialBackoff(RETRY_POLICY).next(),
    },
  };
}

/**
 * etcd3's error classes for the gRPC status codes worth another attempt: the call may not have
 * reached a working leader (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, UNKNOWN, INTERNAL), or
 * etcd shed or aborted it (RESOURCE_EXHAUSTED, ABORTED). The same set etcd3 marks recoverable
 * and etcd's own client retries. Every other class (invalid argument, permission, lease not
 * found, a closed client, ...) fails the same way again.
 */
const RETRYABLE_CLASSES: ReadonlyArray<abstract new (...args: never[]) => Error> = [
  GRPCUnavailableError,
  GRPCDeadlineExceededError,
  GRPCCancelledError,
  GRPCUnknownError,
  GRPCInternalError,
  GRPCResourceExhastedError,
  GRPCAbortedError,
];

/**
 * etcd's server errors whose gRPC status is UNAVAILABLE or RESOURCE_EXHAUSTED (etcd
 * api/v3rpc/rpctypes), by their fixed text: the one place an etcd error reaches this layer
 * without its status code is an `EtcdError` (etcd3 types a watch cancel by its text alone). An
 * exact match, not a pattern: a message that merely mentions "connection" or "deadline" is not
 * a transient failure.
 */
const TRANSIENT_SERVER_ERRORS: ReadonlySet<string> = new Set([
  'etcdserver: no leader',
  'etcdserver: not leader',
  'etcdserver: leader changed',
  'etcdserver: server stopped',
  'etcdserver: request timed out',
  'etcdserver: request timed out, possibly due to previous leader failure',
  'etcdserver: request timed out, possibly due to connection lost',
  'etcdserver: request timed out, waiting for the applied index took too long',
  'etcdserver: unhealthy cluster',
  'etcdserver: too many requests',
]);

/**
 * Whether an error from etcd (or from this layer) is worth retrying: a TandemError by its flag
 * (the catalogue's column), an etcd error by its class, i.e. its gRPC status code. An error
 * etcd3 has not typed (a plain gRPC status error) is typed first by etcd3's own `castGrpcError`.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof TandemError) return err.retryable;
  if (!(err instanceof Error)) return false;
  const typed = err.constructor === Error ? castGrpcError(err) : err;
  if (RETRYABLE_CLASSES.some((c) => typed instanceof c)) return true;
  if (typed instanceof EtcdError) {
    // The server's text, after what etcd3 prefixes to it ("Watcher canceled: ").
    const at = typed.message.indexOf('etcdserver: ');
    return at >= 0 && TRANSIENT_SERVER_ERRORS.has(typed.message.slice(at));
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

/** Delay before retry number `attempt` (0-based) under RETRY_POLICY. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  return policyDelay(RETRY_POLICY, attempt, random);
}

/** The delays of one long-running cluster loop under RETRY_POLICY. */
export function clusterBackoff(): Backoff {
  return new Backoff(RETRY_POLICY);
}

/** Resolves after `ms`, or rejects (TANDEM_ERR_CLUSTER_CLOSED) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepFor(ms, signal, abortError);
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
  /** Default: isRetryable (etcd's transient failures, TandemErrors marked retryable). */
  readonly retryable?: (err: TandemError) => boolean;
  /** Called before each wait; default: a debug line on `logger`. */
  readonly onRetry?: (err: TandemError, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn` until it succeeds, throws a non-retryable error, the deadline passes or `signal`
 * aborts; what it throws is a TandemError. Only use it for idempotent operations (reads,
 * compare-and-set transactions whose outcome the caller re-checks).
 */
export function withRetry<T>(what: string, fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const retryable = opts.retryable ?? ((e: TandemError) => e.retryable);
  return retryWith(what, fn, {
    policy: RETRY_POLICY,
    retryable: (err) => retryable(err as TandemError),
    toError: (err) => toClusterError(err, what),
    abortError,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.deadlineMs !== undefined ? { deadlineMs: opts.deadlineMs } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.onRetry
      ? { onRetry: (err, attempt, delayMs) => opts.onRetry!(err as TandemError, attempt, delayMs) }
      : {}),
  });
}
