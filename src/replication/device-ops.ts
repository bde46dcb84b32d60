import type { BlockDevice } from '../backstore/block-device.js';

/** Zeroes a range: discard where the device can (it reads back zeroes), else a write of zeroes. */
export async function discardOn(dev: BlockDevice, offset: number, length: number): Promise<void> {
  if (dev.discard) return dev.discard(offset, length);
  const zero = Buffer.alloc(Math.min(length, 1 << 20));
  for (let done = 0; done < length; done += zero.length) {
    const n = Math.min(zero.length, length - done);
    await dev.write(offset + done, n === zero.length ? zero : zero.subarray(0, n), false);
  }
}

/** Whether the whole range is unmapped (reads back zeroes) on a thin device. */
export async function unmapped(dev: BlockDevice, offset: number, length: number): Promise<boolean> {
  if (!dev.allocation) return false;
  const e = await dev.allocation(offset, length);
  return !e.mapped && e.length >= length;
}
