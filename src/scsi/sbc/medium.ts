import type { LuView } from '../lu-view.js';

/**
 * Medium reads shared by the SBC commands. Changes to the medium go through ExecContext.medium
 * (src/scsi/medium.ts), which holds the LBA range lock (DESIGN.md safety rule 5).
 */

export function readBlocks(lu: LuView, lba: number, blocks: number): Promise<Buffer> {
  return lu.device.read(lba * lu.blockSize, blocks * lu.blockSize);
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
