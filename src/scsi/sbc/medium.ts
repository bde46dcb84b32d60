import { ioBuffers } from '../../util/buffer-pool.js';
import type { LuView } from '../lu-view.js';

/**
 * Medium reads shared by the SBC commands. Changes to the medium go through ExecContext.medium
 * (src/scsi/medium.ts), which holds the LBA range lock (DESIGN.md safety rule 5).
 */

/**
 * Reads [lba, +blocks) and runs `use` on the bytes. A device read comes from the I/O pool: the
 * buffer goes back here once `use` returns, so a handler never keeps nor releases it.
 */
export async function withBlocks<T>(
  lu: LuView,
  lba: number,
  blocks: number,
  use: (medium: Buffer) => T,
): Promise<T> {
  const medium = await lu.device.read(lba * lu.blockSize, blocks * lu.blockSize);
  try {
    return use(medium);
  } finally {
    ioBuffers.give(medium);
  }
}

/**
 * A READ's data-in: the device's buffer, lent to the transport with the completion; the
 * transport calls `release` exactly once, after the kernel has the bytes.
 */
export async function readDataIn(
  lu: LuView,
  lba: number,
  blocks: number,
): Promise<{ data: Buffer; release: () => void }> {
  const data = await lu.device.read(lba * lu.blockSize, blocks * lu.blockSize);
  return { data, release: () => ioBuffers.give(data) };
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
