import type { BlockDevice, Extent } from '../backstore/block-device.js';
import type { Obs } from './metrics-series.js';

/** A BlockDevice whose data-path calls are timed (the backstore stage); the rest pass through. */
export class TimedDevice implements BlockDevice {
  readonly #inner: BlockDevice;
  readonly #seconds: Obs;
  readonly description: string;
  readonly discardGranularity?: number;
  readonly discard?: (offset: number, length: number) => Promise<void>;
  readonly allocation?: (offset: number, length: number) => Promise<Extent>;
  readonly prefetch?: (offset: number, length: number) => Promise<void>;
  readonly grow?: (size: number) => Promise<void>;
  readonly submitWrites?: () => void;

  constructor(inner: BlockDevice, seconds: Obs) {
    this.#inner = inner;
    this.#seconds = seconds;
    if (inner.grow) this.grow = inner.grow.bind(inner);
    this.description = inner.description;
    // Optional members stay absent when the device lacks them (their absence means something).
    if (inner.discardGranularity !== undefined) this.discardGranularity = inner.discardGranularity;
    if (inner.discard) {
      const discard = inner.discard.bind(inner);
      this.discard = (offset, length) => {
        const t0 = performance.now();
        return this.#timed(discard(offset, length), t0);
      };
    }
    if (inner.allocation) this.allocation = inner.allocation.bind(inner);
    if (inner.prefetch) this.prefetch = inner.prefetch.bind(inner);
    if (inner.submitWrites) this.submitWrites = inner.submitWrites.bind(inner);
  }

  /** The inner device's: it can grow. */
  get size(): number {
    return this.#inner.size;
  }

  read(offset: number, length: number): Promise<Buffer> {
    const t0 = performance.now();
    return this.#timed(this.#inner.read(offset, length), t0);
  }

  write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    const t0 = performance.now();
    return this.#timed(this.#inner.write(offset, data, fua), t0);
  }

  flush(): Promise<void> {
    const t0 = performance.now();
    return this.#timed(this.#inner.flush(), t0);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  async #timed<T>(p: Promise<T>, t0: number): Promise<T> {
    try {
      return await p;
    } finally {
      this.#seconds.observe((performance.now() - t0) / 1000);
    }
  }
}
