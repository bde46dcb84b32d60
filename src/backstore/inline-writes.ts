/**
 * Whether a FileDevice issues its writes on the event loop ("inline", a synchronous pwritev) or
 * hands them to libuv's thread pool.
 *
 * A buffered write that lands in the page cache costs a few microseconds of copying. The hand-off
 * to a pool thread and back costs more than that: a futex wake, a context switch, and an async
 * wake-up of the loop for the callback. On a busy machine it also adds a scheduling delay to
 * every write's latency. Measured on a 2-core machine, replicated 4 KiB writes at queue depth 32
 * went 15-20% faster inline.
 *
 * But a buffered write can block. The kernel throttles a writer when dirty pages are over the
 * limit (up to 200 ms per call), and a block device or a network file system may be slow. A
 * blocked event loop stalls every session of the node, and its lease keep-alives. So writes stay
 * inline only while they are fast. One that took longer than `slowMs` sends writes to the pool
 * for `backoffMs`. The backoff doubles, up to `maxBackoffMs`, each time the first inline write
 * after it is slow again, and returns to `backoffMs` when one is fast. The loop is then blocked
 * by at most one slow write per backoff period.
 */
export interface InlineWritePolicyOptions {
  /** An inline write that took longer than this turns inline writes off (default 2 ms). */
  slowMs?: number;
  /** How long they stay off after the first slow write (default 1 s). */
  backoffMs?: number;
  /** The longest they stay off (default 60 s). */
  maxBackoffMs?: number;
  /**
   * Slow inline calls in a row before they turn inline off (default 1). Reads use 2: a
   * page-cache read cannot wait for the device (RWF_NOWAIT), so one that was slow was almost
   * always a thread the scheduler took the CPU from mid-call on a loaded machine, which the
   * thread pool would not have helped; a file system that really blocks is slow every time.
   */
  slowInRow?: number;
  /** The clock, in milliseconds (default performance.now). */
  now?: () => number;
}

export class InlineWritePolicy {
  readonly #slowMs: number;
  readonly #baseBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #now: () => number;
  #backoffMs: number;
  readonly #slowInRow: number;
  /** Slow calls since the last fast one, this backoff not yet taken. */
  #slowCount = 0;
  /** Inline writes are off until this time. */
  #offUntil = 0;
  /** The last inline write was slow: the next slow one doubles the backoff. */
  #lastSlow = false;

  constructor(opts: InlineWritePolicyOptions = {}) {
    this.#slowMs = opts.slowMs ?? 2;
    this.#baseBackoffMs = opts.backoffMs ?? 1000;
    this.#maxBackoffMs = Math.max(this.#baseBackoffMs, opts.maxBackoffMs ?? 60_000);
    this.#now = opts.now ?? (() => performance.now());
    this.#backoffMs = this.#baseBackoffMs;
    this.#slowInRow = Math.max(1, opts.slowInRow ?? 1);
  }

  /** The clock: callers time an inline write with it and report it to done(). */
  now(): number {
    return this.#now();
  }

  /** Whether the next write may go inline. */
  get inline(): boolean {
    return this.#offUntil === 0 || this.#now() >= this.#offUntil;
  }

  /**
   * Reports an inline write that started at `startedAt` (from now()) and has just returned.
   * Returns the backoff in milliseconds when it was slow and inline writes are now off, else 0.
   */
  done(startedAt: number): number {
    const now = this.#now();
    if (now - startedAt <= this.#slowMs) {
      this.#slowCount = 0;
      this.#lastSlow = false;
      this.#backoffMs = this.#baseBackoffMs;
      this.#offUntil = 0;
      return 0;
    }
    if (++this.#slowCount < this.#slowInRow) return 0;
    this.#slowCount = 0;
    if (this.#lastSlow) this.#backoffMs = Math.min(this.#maxBackoffMs, this.#backoffMs * 2);
    this.#lastSlow = true;
    this.#offUntil = now + this.#backoffMs;
    return this.#backoffMs;
  }
}

/** Slow inline reads and writes are warned of at most this often. */
const SLOW_WARN_INTERVAL_MS = 60_000;

/** Warns of slow inline I/O of one direction: at most once a minute, with a count in between. */
export class SlowIoWarnings {
  readonly #what: 'read' | 'write';
  readonly #warn: (message: string) => void;
  #at: number | undefined;
  #unwarned = 0;

  constructor(what: 'read' | 'write', warn: (message: string) => void) {
    this.#what = what;
    this.#warn = warn;
  }

  /** An inline `what` of `bytes` took `ms` and sent them to the pool for `backoffMs`; `now` from its policy. */
  slow(bytes: number, ms: number, backoffMs: number, now: number): void {
    const what = this.#what;
    if (this.#at !== undefined && now - this.#at < SLOW_WARN_INTERVAL_MS) {
      this.#unwarned++;
      return;
    }
    const more = this.#unwarned > 0 ? ` (${this.#unwarned} more slow ${what}s since the last warning)` : '';
    this.#at = now;
    this.#unwarned = 0;
    this.#warn(
      `a ${bytes}-byte ${what} took ${ms.toFixed(1)} ms on the event loop: ${what}s go through the thread pool for ${backoffMs} ms${more}`,
    );
  }
}
