import fs from 'node:fs';
import path from 'node:path';
import { replaceFileDurably } from '../util/durable-file.js';
import { TandemError } from '../util/errors.js';

const MAGIC = 'TNDMBMP1';
const HEADER = 32;
/** At most this many regions: the bitmap stays ≤ 128 KiB and one resync decision is cheap. */
export const MAX_REGIONS = 1 << 20;
export const DEFAULT_REGION_SIZE = 1 << 20;
/** Regions marked dirty beyond a write's own when its mark needs a bitmap write anyway. */
export const MARK_AHEAD = 31;

/** The region size for a volume: the wanted one (power of 2) raised until ≤ MAX_REGIONS regions. */
export function regionSizeFor(size: number, wanted = DEFAULT_REGION_SIZE): number {
  let r = 4096;
  while (r < wanted) r *= 2;
  while (Math.ceil(size / r) > MAX_REGIONS) r *= 2;
  return r;
}

/**
 * The dirty-region bitmap (DESIGN.md safety rule 6), which is also the activity log: a region's
 * bit is set and durable before the primary writes the region, and cleared only once every
 * replica is in sync and the region is quiet. File `<volume>.bitmap`: a 32-byte header (magic,
 * version, region size, volume size), then one bit per region, LSB first.
 *
 * Concurrent marks share one pwrite + fdatasync; so do batches of clears.
 */
export class DirtyBitmap {
  readonly regionSize: number;
  #size: number;
  #regions: number;
  readonly #file: string;
  #fd: number;
  /** What is wanted: the in-memory state. */
  #bits: Buffer;
  /** What is on stable storage. */
  #disk: Buffer;
  /** The bytes a persist in progress is writing (undefined: none in progress). */
  #writing: { lo: number; bytes: Buffer } | undefined;
  #changedLo = Number.POSITIVE_INFINITY;
  #changedHi = -1;
  #next: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | undefined;
  #running = false;
  #count = 0;
  #closed = false;

  private constructor(file: string, fd: number, size: number, regionSize: number, bits: Buffer) {
    this.#file = file;
    this.#fd = fd;
    this.#size = size;
    this.regionSize = regionSize;
    this.#regions = Math.ceil(size / regionSize);
    this.#bits = bits;
    this.#disk = Buffer.from(bits);
    for (let i = 0; i < this.regions; i++) if (this.isDirty(i)) this.#count++;
  }

  /**
   * Opens or creates the bitmap. A file written for another size or region size is converted
   * (every new region overlapping an old dirty one is dirty). `created` tells the caller the
   * file did not exist.
   */
  static async open(
    file: string,
    size: number,
    regionSize: number,
  ): Promise<{ bitmap: DirtyBitmap; created: boolean }> {
    const regions = Math.ceil(size / regionSize);
    const bytes = Math.ceil(regions / 8);
    try {
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      let old: Buffer | undefined;
      try {
        old = await fs.promises.readFile(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      let bits = Buffer.alloc(bytes);
      let rewrite = old === undefined;
      if (old) {
        if (old.length < HEADER || old.toString('latin1', 0, 8) !== MAGIC || old.readUInt32BE(8) !== 1) {
          throw new Error('not a Tandem bitmap file');
        }
        const oldRegion = Number(old.readBigUInt64BE(16));
        const oldSize = Number(old.readBigUInt64BE(24));
        const oldBits = old.subarray(HEADER);
        if (oldRegion === regionSize && oldSize === size && oldBits.length === bytes) {
          bits = Buffer.from(oldBits);
        } else {
          // Another geometry: keep every dirty byte range dirty.
          const oldRegions = Math.min(Math.ceil(oldSize / oldRegion), oldBits.length * 8);
          for (let i = 0; i < oldRegions; i++) {
            if ((oldBits[i >> 3]! & (1 << (i & 7))) === 0) continue;
            const first = Math.floor((i * oldRegion) / regionSize);
            const last = Math.min(regions - 1, Math.floor(((i + 1) * oldRegion - 1) / regionSize));
            for (let r = first; r <= last; r++) bits[r >> 3]! |= 1 << (r & 7);
          }
          rewrite = true;
        }
      }
      if (rewrite) {
        const header = Buffer.alloc(HEADER);
        header.write(MAGIC, 0, 'latin1');
        header.writeUInt32BE(1, 8);
        header.writeBigUInt64BE(BigInt(regionSize), 16);
        header.writeBigUInt64BE(BigInt(size), 24);
        await replaceFileDurably(file, Buffer.concat([header, bits]));
      }
      const fd = fs.openSync(file, 'r+');
      return { bitmap: new DirtyBitmap(file, fd, size, regionSize, bits), created: old === undefined };
    } catch (err) {
      throw new TandemError('TANDEM_ERR_BACKSTORE_IO', `dirty bitmap ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** The volume size the bitmap covers (it follows a resize). */
  get size(): number {
    return this.#size;
  }

  get regions(): number {
    return this.#regions;
  }

  /** The volume size a bitmap file records (undefined: no readable file). */
  static async recordedSize(file: string): Promise<number | undefined> {
    try {
      const fh = await fs.promises.open(file, 'r');
      try {
        const header = Buffer.alloc(HEADER);
        const { bytesRead } = await fh.read(header, 0, HEADER, 0);
        if (bytesRead < HEADER || header.toString('latin1', 0, 8) !== MAGIC) return undefined;
        return Number(header.readBigUInt64BE(24));
      } finally {
        await fh.close();
      }
    } catch {
      return undefined;
    }
  }

  /**
   * Covers a larger volume, durably, before resolving (a resize; the new regions are clean: the
   * grown store reads back zeroes on every copy). The region size stays, so region numbers keep
   * their meaning for writes, resyncs and locks in flight; a size needing more than MAX_REGIONS
   * regions of this size is refused. Marks and clears made meanwhile are kept and persisted after.
   */
  async grow(size: number): Promise<void> {
    if (size <= this.#size) return;
    const regions = Math.ceil(size / this.regionSize);
    if (regions > MAX_REGIONS) {
      throw new TandemError(
        'TANDEM_ERR_BACKSTORE_IO',
        `dirty bitmap ${this.#file}: ${size} bytes need ${regions} regions of ${this.regionSize} (at most ${MAX_REGIONS})`,
      );
    }
    // The persist loop is ours until the new file is in place: no pwrite to the old descriptor.
    while (this.#running) await new Promise((r) => setTimeout(r, 1));
    this.#running = true;
    try {
      const bytes = Math.ceil(regions / 8);
      const bits = Buffer.alloc(bytes);
      this.#bits.copy(bits);
      const disk = Buffer.alloc(bytes);
      this.#disk.copy(disk);
      // Swapped before the first await: marks from now on land in the new buffer.
      this.#bits = bits;
      this.#disk = disk;
      this.#regions = regions;
      this.#size = size;
      const snapshot = Buffer.from(bits);
      const header = Buffer.alloc(HEADER);
      header.write(MAGIC, 0, 'latin1');
      header.writeUInt32BE(1, 8);
      header.writeBigUInt64BE(BigInt(this.regionSize), 16);
      header.writeBigUInt64BE(BigInt(size), 24);
      await replaceFileDurably(this.#file, Buffer.concat([header, snapshot]));
      const old = this.#fd;
      this.#fd = fs.openSync(this.#file, 'r+');
      fs.closeSync(old);
      // What the new file holds is on stable storage; later changes are still pending.
      snapshot.copy(this.#disk);
    } catch (err) {
      throw new TandemError(
        'TANDEM_ERR_BACKSTORE_IO',
        `dirty bitmap ${this.#file}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    } finally {
      this.#running = false;
      if (this.#next) void this.#run();
    }
  }

  isDirty(region: number): boolean {
    return (this.#bits[region >> 3]! & (1 << (region & 7))) !== 0;
  }

  /** Dirty regions in memory (marks may not be durable yet; clears may not be either). */
  get dirtyCount(): number {
    return this.#count;
  }

  /** The regions overlapping [offset, offset + length). */
  regionsOf(offset: number, length: number): { first: number; last: number } {
    const first = Math.floor(offset / this.regionSize);
    const last = Math.floor((offset + Math.max(length, 1) - 1) / this.regionSize);
    return { first, last: Math.min(last, this.regions - 1) };
  }

  /** Dirty region indices, ascending. */
  dirtyRegions(): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.#bits.length; b++) {
      const v = this.#bits[b]!;
      if (v === 0) continue;
      for (let k = 0; k < 8; k++) if (v & (1 << k) && b * 8 + k < this.regions) out.push(b * 8 + k);
    }
    return out;
  }

  /** A copy of the in-memory bits (sent to a primary in the Hello reply). */
  snapshot(): Buffer {
    return Buffer.from(this.#bits);
  }

  /** Whether region `r` is set on disk and no persist in progress is clearing it. */
  #durable(r: number): boolean {
    const byte = r >> 3;
    const bit = 1 << (r & 7);
    if ((this.#disk[byte]! & bit) === 0) return false;
    const w = this.#writing;
    if (w && byte >= w.lo && byte < w.lo + w.bytes.length && (w.bytes[byte - w.lo]! & bit) === 0)
      return false;
    return true;
  }

  /** Whether regions first..last are all dirty, durably: mark() of them would change nothing. */
  markedDurably(first: number, last: number): boolean {
    for (let r = first; r <= last; r++) if (!this.isDirty(r) || !this.#durable(r)) return false;
    return true;
  }

  /** Sets regions first..last and resolves once they are on stable storage. */
  /**
   * The last region a mark of [first, last] should cover: MARK_AHEAD more when the mark costs a
   * bitmap write anyway (a region in it is clean), so a sequential stream pays one fdatasync
   * per MARK_AHEAD + 1 regions; just `last` when every region is dirty already.
   */
  markAheadEnd(first: number, last: number): number {
    for (let r = first; r <= last; r++)
      if (!this.isDirty(r)) return Math.min(this.regions - 1, last + MARK_AHEAD);
    return last;
  }

  mark(first: number, last: number): Promise<void> {
    let durable = true;
    for (let r = first; r <= last; r++) {
      if (!this.isDirty(r)) {
        this.#bits[r >> 3]! |= 1 << (r & 7);
        this.#count++;
        this.#changed(r);
      }
      if (!this.#durable(r)) durable = false;
    }
    if (durable) return Promise.resolve();
    return this.#persist();
  }

  /** Marks every region (a lost bitmap: any region may differ). */
  markAll(): Promise<void> {
    return this.regions === 0 ? Promise.resolve() : this.mark(0, this.regions - 1);
  }

  /** Clears regions; the returned promise resolves once that is durable (nobody needs to wait). */
  clear(regions: Iterable<number>): Promise<void> {
    let any = false;
    for (const r of regions) {
      if (!this.isDirty(r)) continue;
      this.#bits[r >> 3]! &= ~(1 << (r & 7));
      this.#count--;
      this.#changed(r);
      any = true;
    }
    return any ? this.#persist() : Promise.resolve();
  }

  clearAll(): Promise<void> {
    return this.clear(this.dirtyRegions());
  }

  #changed(r: number): void {
    const byte = r >> 3;
    if (byte < this.#changedLo) this.#changedLo = byte;
    if (byte > this.#changedHi) this.#changedHi = byte;
  }

  /** The next persist: everything changed before it starts is in it. */
  #persist(): Promise<void> {
    if (!this.#next) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#next = { promise, resolve, reject };
      // #run() takes the batch synchronously: hand out its promise first.
      if (!this.#running) void this.#run();
      return promise;
    }
    return this.#next.promise;
  }

  async #run(): Promise<void> {
    this.#running = true;
    while (this.#next) {
      const batch = this.#next;
      this.#next = undefined;
      if (this.#changedHi < 0) {
        batch.resolve();
        continue;
      }
      const lo = this.#changedLo;
      const bytes = Buffer.from(this.#bits.subarray(lo, this.#changedHi + 1));
      this.#changedLo = Number.POSITIVE_INFINITY;
      this.#changedHi = -1;
      this.#writing = { lo, bytes };
      try {
        if (this.#closed) throw new Error('closed');
        await pwriteAll(this.#fd, bytes, HEADER + lo);
        await new Promise<void>((res, rej) => fs.fdatasync(this.#fd, (e) => (e ? rej(e) : res())));
        bytes.copy(this.#disk, lo);
        batch.resolve();
      } catch (err) {
        // Not durable: the bytes must be written again by the next persist.
        this.#changedLo = Math.min(this.#changedLo, lo);
        this.#changedHi = Math.max(this.#changedHi, lo + bytes.length - 1);
        batch.reject(
          new TandemError(
            'TANDEM_ERR_BACKSTORE_IO',
            `dirty bitmap ${this.#file}: ${(err as Error).message}`,
            {
              cause: err,
            },
          ),
        );
      } finally {
        this.#writing = undefined;
      }
    }
    this.#running = false;
  }

  async close(): Promise<void> {
    // Let a persist in progress finish: its callers are waiting for it.
    while (this.#running) await new Promise((r) => setTimeout(r, 1));
    this.#closed = true;
    fs.closeSync(this.#fd);
  }
}

function pwriteAll(fd: number, data: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      fs.write(fd, data, done, data.length - done, position + done, (err, n) => {
        if (err) return reject(err);
        if (done + n < data.length) return step(done + n);
        resolve();
      });
    };
    step(0);
  });
}
