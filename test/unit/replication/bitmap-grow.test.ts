// Issue 15: the dirty bitmap follows an online resize — it covers the larger volume durably,
// keeps every dirty bit, and marks made while it grows are neither lost nor written to the
// replaced file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirtyBitmap, MAX_REGIONS } from '../../../src/replication/bitmap.js';
import { sizesAtOpen } from '../../../src/replication/resize.js';
import { MiB } from './harness.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-bitmap-grow-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('DirtyBitmap.grow', () => {
  it('covers the new size on disk, keeps dirty bits, and persists marks made meanwhile', async () => {
    const file = path.join(dir, 'v.bitmap');
    const { bitmap } = await DirtyBitmap.open(file, 8 * MiB, MiB);
    await bitmap.mark(2, 3);
    const growing = bitmap.grow(16 * MiB);
    // During the grow: a mark of an old and of a new region.
    const marked = bitmap.mark(12, 12);
    const old = bitmap.mark(5, 5);
    await Promise.all([growing, marked, old]);
    expect(bitmap.size).toBe(16 * MiB);
    expect(bitmap.regions).toBe(16);
    expect(bitmap.dirtyRegions()).toEqual([2, 3, 5, 12]);
    expect(bitmap.markedDurably(12, 12)).toBe(true);
    await bitmap.clear([3]);
    await bitmap.close();
    expect(await DirtyBitmap.recordedSize(file)).toBe(16 * MiB);
    const { bitmap: again, created } = await DirtyBitmap.open(file, 16 * MiB, MiB);
    expect(created).toBe(false);
    expect(again.dirtyRegions()).toEqual([2, 5, 12]);
    await again.close();
  });

  it('refuses a size that needs more than MAX_REGIONS regions of its region size, unchanged', async () => {
    const file = path.join(dir, 'v.bitmap');
    const { bitmap } = await DirtyBitmap.open(file, 8 * MiB, 4096);
    await expect(bitmap.grow((MAX_REGIONS + 1) * 4096)).rejects.toThrow(/regions/);
    expect(bitmap.size).toBe(8 * MiB);
    await bitmap.close();
    expect(await DirtyBitmap.recordedSize(file)).toBe(8 * MiB);
  });
});

describe('sizesAtOpen', () => {
  it('serves the committed size, covers a prepared one, never a store grown only at open', () => {
    // Before resizes were recorded: the bitmap's size is what was served.
    expect(sizesAtOpen(undefined, 8 * MiB, 16 * MiB)).toEqual({ committed: 8 * MiB, covered: 8 * MiB });
    // Prepared (bitmap at 16 MiB), not committed.
    expect(sizesAtOpen(8 * MiB, 16 * MiB, 16 * MiB)).toEqual({ committed: 8 * MiB, covered: 16 * MiB });
    // A new volume.
    expect(sizesAtOpen(undefined, undefined, 4 * MiB)).toEqual({ committed: 4 * MiB, covered: 4 * MiB });
    // A store smaller than the record (replaced): never beyond the store.
    expect(sizesAtOpen(8 * MiB, 8 * MiB, 4 * MiB)).toEqual({ committed: 4 * MiB, covered: 4 * MiB });
  });
});
