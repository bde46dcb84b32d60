/**
 * Recycles large I/O buffers. Allocating a fresh 64 KiB–1 MiB Buffer per READ costs more in
 * garbage collection than the copy itself; a read buffer goes back to its size class once the
 * transport has handed its bytes to the kernel.
 */
export class BufferPool {
  readonly #free = new Map<number, Buffer[]>();
  readonly #maxPerSize: number;
  readonly #minSize: number;
  readonly #maxSize: number;

  constructor(opts: { maxPerSize?: number; minSize?: number; maxSize?: number } = {}) {
    this.#maxPerSize = opts.maxPerSize ?? 64;
    this.#minSize = opts.minSize ?? 4096;
    this.#maxSize = opts.maxSize ?? 1 << 20;
  }

  /** An uninitialized buffer of exactly `size` bytes. */
  take(size: number): Buffer {
    const list = this.#free.get(size);
    const b = list?.pop();
    return b ?? Buffer.allocUnsafeSlow(size);
  }

  /** Gives a buffer back; the caller must hold no reference to it (or to slices of it). */
  give(b: Buffer): void {
    const size = b.length;
    if (size < this.#minSize || size > this.#maxSize || b.byteOffset !== 0 || b.buffer.byteLength !== size)
      return;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, (list = []));
    if (list.length < this.#maxPerSize) list.push(b);
  }

  /** Whether `size` is worth pooling. */
  pools(size: number): boolean {
    return size >= this.#minSize && size <= this.#maxSize;
  }
}

/** The process-wide pool for backing-store reads. */
export const ioBuffers = new BufferPool();
