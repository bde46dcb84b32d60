/**
 * Application I/O this long ago still counts as "busy": a resync chunk sent into the gap
 * between two writes of a queue-depth-1 writer would delay the next one.
 */
export const APP_QUIET_MS = 5;
/** A resync chunk waits at most this long for an idle moment while application I/O runs. */
export const YIELD_MAX_MS = 20;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * How fast resync may copy on one volume (DRBD's c-max-rate and c-min-rate, simplified): a
 * pacing limit in bytes/s that can change at any time, and a yield to application I/O. While
 * application reads or writes are in flight (or were a moment ago), one chunk at a time goes
 * out, and each waits up to YIELD_MAX_MS for an idle moment first: a resync chunk sits in the
 * same Mirror stream and on the same disks as the application's writes, so fewer of them in
 * flight means a shorter queue ahead of each write. Without application I/O the resync runs
 * at the limit (or as fast as it can).
 */
export class ResyncThrottle {
  /** Bytes/s; 0: unlimited. */
  #rate = 0;
  /** performance.now() from which the next chunk may go (pacing: no burst after idle). */
  #next = 0;
  #appInflight = 0;
  #lastApp = Number.NEGATIVE_INFINITY;
  #idleWaiters: (() => void)[] = [];

  get rateBps(): number {
    return this.#rate;
  }

  /** A new limit (bytes/s, 0: unlimited) applies to the next chunk. */
  setRate(bytesPerSecond: number): void {
    const r = Math.max(0, Math.floor(bytesPerSecond));
    if (r === this.#rate) return;
    this.#rate = r;
    // A chunk paced at the old rate must not hold back the first one at the new rate.
    this.#next = Math.min(this.#next, performance.now());
  }

  appStarted(): void {
    this.#appInflight++;
  }

  appDone(): void {
    this.#appInflight--;
    this.#lastApp = performance.now();
    if (this.#appInflight === 0 && this.#idleWaiters.length > 0) {
      const w = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const f of w) f();
    }
  }

  /** Application I/O is in flight, or ended less than APP_QUIET_MS ago. */
  get appBusy(): boolean {
    return this.#appInflight > 0 || performance.now() - this.#lastApp < APP_QUIET_MS;
  }

  /**
   * Before resync worker `worker` sends a chunk of `bytes`: waits for its turn. Workers other
   * than the first pause while the application is busy; the first waits for an idle moment (at
   * most YIELD_MAX_MS), then for the rate limit.
   */
  async before(worker: number, bytes: number, stopped: () => boolean): Promise<void> {
    while (worker > 0 && this.appBusy && !stopped()) await sleep(YIELD_MAX_MS);
    if (worker === 0 && this.appBusy) await this.#idle(YIELD_MAX_MS);
    if (this.#rate <= 0) return;
    const now = performance.now();
    const at = Math.max(now, this.#next);
    this.#next = at + (bytes / this.#rate) * 1000;
    if (at > now) await sleep(at - now);
  }

  #idle(maxMs: number): Promise<void> {
    if (this.#appInflight === 0)
      return sleep(Math.max(0, APP_QUIET_MS - (performance.now() - this.#lastApp)));
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, maxMs);
      this.#idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/** Resync progress samples of one link: rate over the last few seconds, and an ETA. */
export class ResyncProgress {
  readonly #samples: { t: number; done: number }[] = [];
  static readonly WINDOW_MS = 5000;

  /** Records `done` bytes at `now` (ms); cheap enough per chunk. */
  sample(done: number, now = Date.now()): void {
    const s = this.#samples;
    const last = s[s.length - 1];
    if (last && now - last.t < 100) last.done = done;
    else s.push({ t: now, done });
    while (s.length > 2 && now - s[1]!.t > ResyncProgress.WINDOW_MS) s.shift();
  }

  reset(now = Date.now()): void {
    this.#samples.length = 0;
    this.#samples.push({ t: now, done: 0 });
  }

  /** Bytes/s over the window (0 without two samples). */
  rate(now = Date.now()): number {
    const s = this.#samples;
    if (s.length < 2) return 0;
    const first = s[0]!;
    const last = s[s.length - 1]!;
    const ms = Math.max(now, last.t) - first.t;
    return ms > 0 ? ((last.done - first.done) * 1000) / ms : 0;
  }
}
