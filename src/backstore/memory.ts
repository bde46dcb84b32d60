import type { BlockDevice } from './block-device.js';

/** A RAM disk, allocated in 1 MiB chunks on first write so a large sparse LU costs nothing. */
export class MemoryDevice implements BlockDevice {
  static readonly CHUNK = 1 << 20;
  readonly size: number;
  readonly description = 'memory';
  readonly #chunks = new Map<number, Buffer>();

  constructor(size: number) {
    this.size = size;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    this.#walk(offset, length, (chunk, chunkOff, bufOff, n) => {
      if (chunk) chunk.copy(out, bufOff, chunkOff, chunkOff + n);
    });
    return out;
  }

  async write(offset: number, data: Buffer, _fua: boolean): Promise<void> {
    this.#walk(offset, data.length, (chunk, chunkOff, bufOff, n, index) => {
      let c = chunk;
      if (!c) {
        c = Buffer.alloc(MemoryDevice.CHUNK);
        this.#chunks.set(index, c);
      }
      data.copy(c, chunkOff, bufOff, bufOff + n);
    });
  }

  async discard(offset: number, length: number): Promise<void> {
    this.#walk(offset, length, (chunk, chunkOff, _bufOff, n, index) => {
      if (!chunk) return;
      if (n === MemoryDevice.CHUNK) this.#chunks.delete(index);
      else chunk.fill(0, chunkOff, chunkOff + n);
    });
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.#chunks.clear();
  }

  #walk(
    offset: number,
    length: number,
    fn: (chunk: Buffer | undefined, chunkOff: number, bufOff: number, n: number, index: number) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const index = Math.floor(pos / MemoryDevice.CHUNK);
      const chunkOff = pos % MemoryDevice.CHUNK;
      const n = Math.min(MemoryDevice.CHUNK - chunkOff, length - done);
      fn(this.#chunks.get(index), chunkOff, done, n, index);
      done += n;
    }
  }
}
