interface RegionState {
  /** Writes holding the region. */
  shared: number;
  exclusive: boolean;
  /** Resync/verify waiting for the region: new writes queue behind them. */
  exclusiveWaiters: number;
}

interface Waiter {
  readonly first: number;
  readonly last: number;
  readonly exclusive: boolean;
  readonly resolve: () => void;
}

/**
 * Orders resync and verify against live writes on the primary, per region of the dirty bitmap.
 * Writes share regions (the SCSI range lock already keeps overlapping writes apart); a resync
 * chunk or a verify holds one region exclusively: it waits for the writes in flight there and
 * new writes to it wait for it. A write takes all its regions at once and an exclusive holder
 * waits on nothing while it holds, so there is no deadlock.
 */
export class RegionLock {
  readonly #regions = new Map<number, RegionState>();
  #waiters: Waiter[] = [];
  /** When each region last had a write released (for the lazy clear of dirty bits). */
  readonly lastWrite = new Map<number, number>();

  #state(r: number): RegionState {
    let s = this.#regions.get(r);
    if (!s) this.#regions.set(r, (s = { shared: 0, exclusive: false, exclusiveWaiters: 0 }));
    return s;
  }

  #gc(r: number): void {
    const s = this.#regions.get(r);
    if (s && s.shared === 0 && !s.exclusive && s.exclusiveWaiters === 0) this.#regions.delete(r);
  }

  #canShare(first: number, last: number): boolean {
    for (let r = first; r <= last; r++) {
      const s = this.#regions.get(r);
      if (s && (s.exclusive || s.exclusiveWaiters > 0)) return false;
    }
    return true;
  }

  #canExclusive(r: number): boolean {
    const s = this.#regions.get(r);
    return !s || (s.shared === 0 && !s.exclusive);
  }

  /** Takes regions first..last for a write if nothing stands in the way; false: call shared(). */
  tryShared(first: number, last: number): boolean {
    if (!this.#canShare(first, last)) return false;
    for (let r = first; r <= last; r++) this.#state(r).shared++;
    return true;
  }

  /** Takes regions first..last for a write. */
  async shared(first: number, last: number): Promise<void> {
    if (!this.#canShare(first, last)) {
      // #wake() takes the regions for us before resolving.
      await new Promise<void>((resolve) => this.#waiters.push({ first, last, exclusive: false, resolve }));
      return;
    }
    for (let r = first; r <= last; r++) this.#state(r).shared++;
  }

  releaseShared(first: number, last: number, now = Date.now()): void {
    for (let r = first; r <= last; r++) {
      const s = this.#state(r);
      s.shared--;
      this.lastWrite.set(r, now);
      this.#gc(r);
    }
    this.#wake();
  }

  /** Takes one region for resync or verify. */
  async exclusive(r: number): Promise<void> {
    if (!this.#canExclusive(r)) {
      this.#state(r).exclusiveWaiters++;
      // #wake() takes the region for us before resolving.
      await new Promise<void>((resolve) =>
        this.#waiters.push({ first: r, last: r, exclusive: true, resolve }),
      );
      return;
    }
    this.#state(r).exclusive = true;
  }

  releaseExclusive(r: number): void {
    const s = this.#state(r);
    s.exclusive = false;
    this.#gc(r);
    this.#wake();
  }

  /** Whether a write holds the region now. */
  busy(r: number): boolean {
    const s = this.#regions.get(r);
    return s !== undefined && (s.shared > 0 || s.exclusive);
  }

  #wake(): void {
    // Exclusive waiters first (they block new writes anyway), in arrival order.
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.exclusive && this.#canExclusive(w.first)) {
        const s = this.#state(w.first);
        s.exclusiveWaiters--;
        s.exclusive = true; // taken now, before a later waiter looks
        w.resolve();
      } else keep.push(w);
    }
    const rest: Waiter[] = [];
    for (const w of keep) {
      if (!w.exclusive && this.#canShare(w.first, w.last)) {
        for (let r = w.first; r <= w.last; r++) this.#state(r).shared++;
        w.resolve();
      } else rest.push(w);
    }
    this.#waiters = rest;
  }
}
