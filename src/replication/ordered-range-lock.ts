/** One op's hold on the byte range [start, end) of the device. */
export interface RangeHold {
  readonly start: number;
  readonly end: number;
  /**
   * Resolves once every earlier hold on an overlapping range is released; undefined when there
   * was none (the common case: the caller goes on without an await).
   */
  readonly ready: Promise<void> | undefined;
  /** Resolvers of later holds waiting for this one (created only when one waits). */
  waiters: (() => void)[] | undefined;
}

/**
 * Orders the ops a replica applies: an op overlapping ops taken before it and not yet released
 * waits for all of them, so overlapping ranges reach the device in the order they were taken
 * (the stream's order), whatever order the device completes them in. Non-overlapping ops never
 * wait for one another. A hold waits only on earlier holds, so there is no deadlock.
 *
 * take() scans the holds in flight: their number is bounded by the primary's queue depth (its
 * writes stay held until this replica acks them), a few dozen, not worth an interval tree.
 */
export class OrderedRangeLock {
  readonly #held = new Set<RangeHold>();

  /** Holds [start, end) after every overlapping earlier hold; release() it when applied. */
  take(start: number, end: number): RangeHold {
    let before: RangeHold[] | undefined;
    for (const h of this.#held) {
      if (h.start < end && start < h.end) (before ??= []).push(h);
    }
    const hold: RangeHold = { start, end, ready: before && waitAll(before), waiters: undefined };
    this.#held.add(hold);
    return hold;
  }

  release(hold: RangeHold): void {
    this.#held.delete(hold);
    const waiters = hold.waiters;
    hold.waiters = undefined;
    if (waiters) for (const w of waiters) w();
  }

  /** Holds taken and not released (for tests and status). */
  get size(): number {
    return this.#held.size;
  }
}

function waitAll(holds: readonly RangeHold[]): Promise<void> {
  const each = holds.map((h) => new Promise<void>((resolve) => (h.waiters ??= []).push(resolve)));
  return each.length === 1 ? each[0]! : Promise.all(each).then(() => undefined);
}
