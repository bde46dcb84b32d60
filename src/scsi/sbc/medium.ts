import type { LogicalUnit } from '../logical-unit.js';

/**
 * Medium access shared by every SBC command that writes, so the write-cache rule lives in
 * one place. Callers hold `lu.rangeLock` over the range (DESIGN.md safety rule 5).
 */

/**
 * Writes whole blocks at `lba`. With WCE = 0 in the caching mode page every write is
 * written through, as if FUA were set (SBC-3 6.4.5): the initiator turned the cache off.
 */
export function writeBlocks(lu: LogicalUnit, lba: number, data: Buffer, fua: boolean): Promise<void> {
  return lu.device.write(lba * lu.blockSize, data, fua || !lu.mode.wce);
}

export function readBlocks(lu: LogicalUnit, lba: number, blocks: number): Promise<Buffer> {
  return lu.device.read(lba * lu.blockSize, blocks * lu.blockSize);
}

/**
 * Deallocates blocks (UNMAP, WRITE SAME with UNMAP): afterwards they read back as zeroes
 * (LBPRZ = 1). A device that cannot deallocate gets zeroes written instead.
 */
export async function deallocateBlocks(lu: LogicalUnit, lba: number, blocks: number): Promise<void> {
  if (blocks === 0) return;
  const offset = lba * lu.blockSize;
  const length = blocks * lu.blockSize;
  if (lu.device.discard) await lu.device.discard(offset, length);
  else await writePattern(lu, lba, blocks, Buffer.alloc(lu.blockSize), false);
  if (!lu.mode.wce) await lu.device.flush();
}

/** The largest single write a pattern fill issues. */
const FILL_CHUNK = 1 << 20;

/** Writes one block's data to every block of a range (WRITE SAME), in 1 MiB writes. */
export async function writePattern(
  lu: LogicalUnit,
  lba: number,
  blocks: number,
  block: Buffer,
  fua: boolean,
): Promise<void> {
  const bs = lu.blockSize;
  const perChunk = Math.max(1, Math.floor(FILL_CHUNK / bs));
  const chunk = Buffer.alloc(Math.min(blocks, perChunk) * bs);
  chunk.fill(block);
  for (let done = 0; done < blocks; ) {
    const n = Math.min(perChunk, blocks - done);
    await writeBlocks(lu, lba + done, n * bs === chunk.length ? chunk : chunk.subarray(0, n * bs), fua);
    done += n;
  }
}

/** The offset of the first byte where `a` and `b` differ, or -1 (they have equal lengths). */
export function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  // Narrow down by blocks of 512 bytes first: Buffer.equals is much faster than a byte loop.
  let off = 0;
  const step = 512;
  while (off + step <= a.length && a.subarray(off, off + step).equals(b.subarray(off, off + step)))
    off += step;
  while (off < a.length && a[off] === b[off]) off++;
  return off;
}
