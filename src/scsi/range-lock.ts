/**
 * An LBA range lock (DESIGN.md safety rule 5): overlapping writes and COMPARE AND WRITE are
 * serialized in arrival order; non-overlapping ranges proceed concurrently.
 */
interface Held {
  start: number;
  end: number; // exclusive
  released: Promise<void>;
}

export class RangeLock {
  readonly #held = new Set<Held>();

  /** Waits for every earlier overlapping holder, then holds [start, start+count). */
  async acquire(start: number, count: number): Promise<() => void> {
    const end = start + Math.max(count, 1);
    const overlapping = [...this.#held].filter((h) => h.start < end && start < h.end).map((h) => h.released);
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const me: Held = { start, end, released };
    this.#held.add(me);
    if (overlapping.length > 0) await Promise.all(overlapping);
    return () => {
      this.#held.delete(me);
      release();
    };
  }

  get size(): number {
    return this.#held.size;
  }
}
