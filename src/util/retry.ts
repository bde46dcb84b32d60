import { ExponentialBackoff, type GeneratorFn, type IBackoff } from 'cockatiel';
import type { Logger } from './logger.js';

/**
 * THE retry policy (STYLE.md: retryable errors are marked, the policy lives in one place):
 * exponential backoff with jitter on cockatiel's `ExponentialBackoff`, an overall deadline, and
 * an abort signal. What is retryable is the caller's predicate (the error catalogue's column,
 * or a transport's own classification); this module knows no error codes and no transport.
 */
export interface BackoffPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  /** ± this fraction of the delay, so that nodes do not retry in lockstep. */
  readonly jitter: number;
}

export interface RetryPolicy extends BackoffPolicy {
  /** Default overall deadline of `withRetry`. */
  readonly deadlineMs: number;
}

/** Delay before retry number `attempt` (0-based): exponential, capped, jittered. */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** attempt);
  const spread = base * policy.jitter;
  return Math.max(0, Math.round(base - spread + 2 * spread * random()));
}

/**
 * cockatiel's ExponentialBackoff driven by `backoffDelay` (its state: the attempt number), so a
 * loop and `withRetry` wait exactly the same. cockatiel's own generators jitter differently
 * (decorrelated, or [0, delay)), which would change the delays etcd clients have been tuned to.
 */
export function exponentialBackoff(
  policy: BackoffPolicy,
  random: () => number = Math.random,
): ExponentialBackoff<number> {
  const generator: GeneratorFn<number> = (attempt) => {
    const n = attempt ?? 0;
    return [backoffDelay(policy, n, random), n + 1];
  };
  return new ExponentialBackoff({
    generator,
    initialDelay: policy.initialDelayMs,
    maxDelay: policy.maxDelayMs,
    exponent: policy.multiplier,
  });
}

/**
 * The delays of one long-running loop (a session, a campaign, a stream that reopens): `next()`
 * after each failure, `reset()` after a success.
 */
export class Backoff {
  readonly #factory: ExponentialBackoff<number>;
  #current: IBackoff<unknown> | undefined;

  constructor(policy: BackoffPolicy, random?: () => number) {
    this.#factory = exponentialBackoff(policy, random);
  }

  next(): number {
    this.#current = this.#current ? this.#current.next(undefined) : this.#factory.next();
    return this.#current.duration;
  }

  reset(): void {
    this.#current = undefined;
  }
}

/**
 * Resolves after `ms`, or rejects with `onAbort(signal)` (default: the signal's reason) when
 * `signal` aborts first.
 */
export function sleep(
  ms: number,
  signal?: AbortSignal,
  onAbort: (signal: AbortSignal) => unknown = (s) => s.reason,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(onAbort(signal));
      return;
    }
    const abort = () => {
      clearTimeout(timer);
      reject(onAbort(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}

export interface WithRetryOptions {
  readonly policy: RetryPolicy;
  /** Whether the (converted) error is worth another attempt. */
  readonly retryable: (err: unknown) => boolean;
  /** Turns what `fn` threw into what is rethrown and logged. Default: as is. */
  readonly toError?: (err: unknown) => unknown;
  /** What an abort rejects with. Default: the signal's reason. */
  readonly abortError?: (signal: AbortSignal) => unknown;
  readonly signal?: AbortSignal;
  /** Give up (rethrow the last error) once the next delay would end past this. Default policy.deadlineMs. */
  readonly deadlineMs?: number;
  /** Give up (rethrow the last error) after this many calls of `fn`. Default: no bound but the deadline. */
  readonly maxAttempts?: number;
  readonly logger?: Logger;
  /** Called before each wait; default: a debug line on `logger`. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Delays' randomness (tests). */
  readonly random?: () => number;
}

/**
 * Runs `fn` until it succeeds, throws a non-retryable error, the deadline passes, `maxAttempts`
 * calls have failed or `signal` aborts. Only for idempotent operations (reads, compare-and-set transactions whose outcome the
 * caller re-checks). Not cockatiel's RetryPolicy.execute: its delay ignores the abort signal and
 * it has no deadline, and a close() must not wait out a backoff.
 */
export async function withRetry<T>(what: string, fn: () => Promise<T>, opts: WithRetryOptions): Promise<T> {
  const deadline = Date.now() + (opts.deadlineMs ?? opts.policy.deadlineMs);
  const backoff = new Backoff(opts.policy, opts.random);
  const abortError = opts.abortError ?? ((s: AbortSignal) => s.reason);
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    try {
      return await fn();
    } catch (err) {
      const error = opts.toError ? opts.toError(err) : err;
      const delay = backoff.next();
      const last = attempt + 1 >= (opts.maxAttempts ?? Number.POSITIVE_INFINITY);
      if (last || !opts.retryable(error) || Date.now() + delay >= deadline) throw error;
      if (opts.onRetry) opts.onRetry(error, attempt, delay);
      else opts.logger?.debug({ err: error, attempt, delayMs: delay }, `${what}: retrying`);
      await sleep(delay, opts.signal, abortError);
    }
  }
}
