import type { BlockDevice, Extent } from './block-device.js';

const CHUNK = 1 << 20;
const PAGE = 4096;
const PAGES_PER_CHUNK = CHUNK / PAGE;

/** One 1 MiB chunk and which of its 4 KiB pages hold data (a set bit: allocated). */
interface Chunk {
  readonly data: Buffer;
  readonly mapped: Uint8Array;
  pages: number;
}

/**
 * A RAM disk, allocated in 1 MiB chunks on first write so a large sparse LU costs nothing.
 * Allocation is tracked per 4 KiB page, like a file system's blocks: GET LBA STATUS reports
 * it, and a chunk whose last page is discarded is freed.
 */
export class MemoryDevice implements BlockDevice {
  static readonly CHUNK = CHUNK;
  static readonly PAGE = PAGE;
  readonly size: number;
  readonly description = 'memory';
  readonly discardGranularity = MemoryDevice.PAGE;
  readonly #chunks = new Map<number, Chunk>();

  constructor(size: number) {
    this.size = size;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    this.#walk(offset, length, (chunk, chunkOff, bufOff, n) => {
      if (chunk) chunk.data.copy(out, bufOff, chunkOff, chunkOff + n);
    });
    return out;
  }

  async write(offset: number, data: Buffer, _fua: boolean): Promise<void> {
    this.#walk(offset, data.length, (chunk, chunkOff, bufOff, n, index) => {
      let c = chunk;
      if (!c) {
        c = { data: Buffer.alloc(MemoryDevice.CHUNK), mapped: new Uint8Array(PAGES_PER_CHUNK / 8), pages: 0 };
        this.#chunks.set(index, c);
      }
      data.copy(c.data, chunkOff, bufOff, bufOff + n);
      const last = Math.floor((chunkOff + n - 1) / MemoryDevice.PAGE);
      for (let p = Math.floor(chunkOff / MemoryDevice.PAGE); p <= last; p++) {
        if (!isSet(c.mapped, p)) {
          c.mapped[p >> 3] |= 1 << (p & 7);
          c.pages++;
        }
      }
    });
  }

  async discard(offset: number, length: number): Promise<void> {
    this.#walk(offset, length, (chunk, chunkOff, _bufOff, n, index) => {
      if (!chunk) return;
      chunk.data.fill(0, chunkOff, chunkOff + n);
      // Only whole pages are released; a partial page is zeroed and stays allocated.
      const first = Math.ceil(chunkOff / MemoryDevice.PAGE);
      const end = Math.floor((chunkOff + n) / MemoryDevice.PAGE);
      for (let p = first; p < end; p++) {
        if (isSet(chunk.mapped, p)) {
          chunk.mapped[p >> 3] &= ~(1 << (p & 7));
          chunk.pages--;
        }
      }
      if (chunk.pages === 0) this.#chunks.delete(index);
    });
  }

  async allocation(offset: number, length: number): Promise<Extent> {
    const status = (pos: number): boolean => {
      const c = this.#chunks.get(Math.floor(pos / MemoryDevice.CHUNK));
      return c !== undefined && isSet(c.mapped, Math.floor((pos % MemoryDevice.CHUNK) / MemoryDevice.PAGE));
    };
    const end = offset + length;
    const mapped = status(offset);
    let pos = (Math.floor(offset / MemoryDevice.PAGE) + 1) * MemoryDevice.PAGE;
    while (pos < end) {
      // A chunk that does not exist is one unallocated run: skip it whole.
      if (!mapped && !this.#chunks.has(Math.floor(pos / MemoryDevice.CHUNK))) {
        pos = (Math.floor(pos / MemoryDevice.CHUNK) + 1) * MemoryDevice.CHUNK;
        continue;
      }
      if (status(pos) !== mapped) break;
      pos += MemoryDevice.PAGE;
    }
    return { mapped, length: Math.min(pos, end) - offset };
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.#chunks.clear();
  }

  /** Bytes held in RAM (allocated chunks). */
  get allocatedBytes(): number {
    return this.#chunks.size * MemoryDevice.CHUNK;
  }

  #walk(
    offset: number,
    length: number,
    fn: (chunk: Chunk | undefined, chunkOff: number, bufOff: number, n: number, index: number) => void,
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

function isSet(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3]! & (1 << (i & 7))) !== 0;
}
