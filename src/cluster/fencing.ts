import { performance } from 'node:perf_hooks';
import { TandemError } from '../util/errors.js';

/**
 * Self-fencing (DESIGN.md safety rule 4): a primary that cannot renew its lease stops executing
 * media commands well before the lease can expire on the etcd side.
 *
 * The math. etcd resets a lease's expiry to (the moment it processes a keep-alive) + TTL, on its
 * own clock. That moment comes after we sent the keep-alive, so a keep-alive SENT at time s
 * (our monotonic clock) and answered with TTL > 0 proves the lease lives until at least s + TTL.
 * Measuring from the send (not the answer) makes a slow or delayed answer err on the safe side;
 * an etcd leader change only extends leases. We stop serving at
 *
 *     fenceAt = s_last + TTL - margin,   margin = max(1000 ms, 30 % of TTL)   (TTL 5 s: 3.5 s)
 *
 * and the margin covers: a media command that passed the check just before fenceAt and is still
 * in flight; timer lateness in reporting it (the check itself is computed, not timer-driven);
 * clock-rate difference between the hosts (ppm, under 1 ms here). The peer cannot take over
 * before s_last + TTL, plus etcd's expiry scan (500 ms) and a campaign round trip.
 *
 * Keep-alives go every TTL/10 (500 ms at 5 s), so fencing needs 7 consecutive unanswered ones:
 * one slow etcd leader election (≈1-2 s with default settings) does not fence anybody.
 */
export interface FencingPolicy {
  readonly ttlMs: number;
  readonly keepAliveIntervalMs: number;
  readonly marginMs: number;
  /** Serving stops this long after the send time of the last confirmed keep-alive. */
  readonly fenceAfterMs: number;
}

export const DEFAULT_LEASE_TTL_SECONDS = 5;

export function fencingPolicy(
  ttlSeconds: number = DEFAULT_LEASE_TTL_SECONDS,
  marginMs?: number,
): FencingPolicy {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 2 || ttlSeconds > 3600) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT',
      `lease TTL must be 2..3600 whole seconds, got ${ttlSeconds}`,
    );
  }
  const ttlMs = ttlSeconds * 1000;
  const keepAliveIntervalMs = Math.max(100, Math.floor(ttlMs / 10));
  const margin = marginMs ?? Math.max(1000, Math.ceil(ttlMs * 0.3));
  // At least two keep-alive intervals must fit before fencing, or one lost packet fences.
  if (!(margin >= 100 && ttlMs - margin >= 2 * keepAliveIntervalMs)) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT',
      `fence margin ${margin} ms does not fit a ${ttlMs} ms lease (100 ms .. TTL - ${2 * keepAliveIntervalMs} ms)`,
    );
  }
  return { ttlMs, keepAliveIntervalMs, marginMs: margin, fenceAfterMs: ttlMs - margin };
}

export type MonotonicClock = () => number;
export const monotonicNow: MonotonicClock = () => performance.now();

/**
 * Tracks keep-alive send times and answers "may this node still serve writes" on the monotonic
 * clock. Answers on one keep-alive stream come back in the order the requests went out, so the
 * oldest outstanding send time belongs to the next answer.
 */
export class RenewalClock {
  readonly #policy: FencingPolicy;
  readonly #now: MonotonicClock;
  #confirmedSentAt = Number.NEGATIVE_INFINITY;
  #outstanding: number[] = [];

  constructor(policy: FencingPolicy, now: MonotonicClock = monotonicNow) {
    this.#policy = policy;
    this.#now = now;
  }

  now(): number {
    return this.#now();
  }

  /** The lease was granted by a request sent at `sentAt`. */
  granted(sentAt: number): void {
    this.#confirmedSentAt = sentAt;
    this.#outstanding = [];
  }

  /** A keep-alive is being sent now; returns its send time. */
  sent(): number {
    const t = this.#now();
    this.#outstanding.push(t);
    return t;
  }

  /**
   * A keep-alive answer with TTL > 0 arrived. Returns false (and changes nothing) if the node was
   * already past its fencing deadline: once stale, a term is over, whatever arrives later.
   */
  confirmed(): boolean {
    const sentAt = this.#outstanding.shift();
    if (!this.fresh()) return false;
    if (sentAt !== undefined && sentAt > this.#confirmedSentAt) this.#confirmedSentAt = sentAt;
    return true;
  }

  /** The keep-alive stream was replaced: answers to requests sent on the old one never come. */
  streamReset(): void {
    this.#outstanding = [];
  }

  /** Monotonic time at which this node must stop serving writes. */
  deadline(): number {
    return this.#confirmedSentAt + this.#policy.fenceAfterMs;
  }

  fresh(now: number = this.#now()): boolean {
    return now < this.deadline();
  }

  /** Send time of the last confirmed keep-alive (or of the grant request). */
  lastConfirmedSentAt(): number {
    return this.#confirmedSentAt;
  }

  outstanding(): number {
    return this.#outstanding.length;
  }
}
