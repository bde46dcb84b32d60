// The durable dirty-region bitmap (safety rule 6): set on disk before the write, survives a
// reopen, converted on a geometry change; and the region lock that orders resync and writes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../../src/backstore/block-device.js';
import { FileDevice } from '../../../src/backstore/file.js';
import { DirtyBitmap, MAX_REGIONS, regionSizeFor } from '../../../src/replication/bitmap.js';
import { RegionLock } from '../../../src/replication/region-lock.js';
import { ReplicatedVolume } from '../../../src/replication/replicated-volume.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeInSync, MiB, pattern, sleep } from './harness.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-bitmap-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Bit `r` of the bitmap file as it is on disk now. */
function bitOnDisk(file: string, r: number): boolean {
  const b = fs.readFileSync(file);
  return (b[32 + (r >> 3)]! & (1 << (r & 7))) !== 0;
}

describe('regionSizeFor', () => {
  it('defaults to 1 MiB and doubles until the bitmap has at most 2^20 bits', () => {
    expect(regionSizeFor(16 * MiB)).toBe(MiB);
    expect(regionSizeFor(2 ** 40)).toBe(MiB); // 1 TiB: exactly 2^20 regions
    expect(regionSizeFor(2 ** 40 + 1)).toBe(2 * MiB);
    expect(regionSizeFor(2 ** 44)).toBe(16 * MiB);
    expect(regionSizeFor(16 * MiB, 64 * 1024)).toBe(64 * 1024);
    expect(regionSizeFor(16 * MiB, 100_000)).toBe(128 * 1024);
    for (const size of [1, 4096, 2 ** 33 + 7, 2 ** 45])
      expect(Math.ceil(size / regionSizeFor(size))).toBeLessThanOrEqual(MAX_REGIONS);
  });
});

describe('DirtyBitmap', () => {
  it('makes a mark durable before it resolves, batches concurrent marks, and survives reopen', async () => {
    const file = path.join(dir, 'v.bitmap');
    const { bitmap, created } = await DirtyBitmap.open(file, 10 * MiB + 4096, MiB);
    expect(created).toBe(true);
    expect(bitmap.regions).toBe(11);
    await Promise.all([bitmap.mark(1, 2), bitmap.mark(10, 10), bitmap.mark(2, 3)]);
    for (const r of [1, 2, 3, 10]) expect(bitOnDisk(file, r)).toBe(true);
    expect(bitOnDisk(file, 0)).toBe(false);
    expect(bitmap.dirtyRegions()).toEqual([1, 2, 3, 10]);
    // Marking a durable bit again costs no I/O: it resolves at once.
    let resolved = false;
    void bitmap.mark(2, 2).then(() => {
      resolved = true;
    });
    await Promise.resolve();
    expect(resolved).toBe(true);
    await bitmap.clear([2, 10]);
    expect(bitOnDisk(file, 2)).toBe(false);
    await bitmap.close();
    const again = await DirtyBitmap.open(file, 10 * MiB + 4096, MiB);
    expect(again.created).toBe(false);
    expect(again.bitmap.dirtyRegions()).toEqual([1, 3]);
    await again.bitmap.close();
  });

  it('does not let a mark resolve while a persist in progress is clearing the same bit', async () => {
    const file = path.join(dir, 'v.bitmap');
    const { bitmap } = await DirtyBitmap.open(file, 4 * MiB, MiB);
    await bitmap.mark(1, 1);
    const clearing = bitmap.clear([1]);
    await bitmap.mark(1, 1);
    await clearing;
    expect(bitOnDisk(file, 1)).toBe(true);
    await bitmap.close();
  });

  it('markedDurably: true only when every region of the range is dirty in memory and on disk', async () => {
    const file = path.join(dir, 'v.bitmap');
    const { bitmap } = await DirtyBitmap.open(file, 8 * MiB, MiB);
    expect(bitmap.markedDurably(1, 2)).toBe(false);
    const marking = bitmap.mark(1, 2);
    // Set in memory, not on disk yet.
    expect(bitmap.markedDurably(1, 2)).toBe(false);
    await marking;
    expect(bitmap.markedDurably(1, 2)).toBe(true);
    expect(bitmap.markedDurably(1, 1)).toBe(true);
    expect(bitmap.markedDurably(1, 3)).toBe(false);
    // A clear in progress: the bit is no longer durably set while it is being written.
    const clearing = bitmap.clear([2]);
    expect(bitmap.markedDurably(2, 2)).toBe(false);
    await clearing;
    expect(bitmap.markedDurably(2, 2)).toBe(false);
    expect(bitmap.markedDurably(1, 1)).toBe(true);
    await bitmap.close();
  });

  it('keeps every dirty byte range dirty when the geometry changes', async () => {
    const file = path.join(dir, 'v.bitmap');
    const first = await DirtyBitmap.open(file, 8 * MiB, MiB);
    await first.bitmap.mark(3, 3);
    await first.bitmap.close();
    const finer = await DirtyBitmap.open(file, 8 * MiB, 256 * 1024);
    expect(finer.bitmap.dirtyRegions()).toEqual([12, 13, 14, 15]);
    await finer.bitmap.close();
    const coarser = await DirtyBitmap.open(file, 16 * MiB, 4 * MiB);
    expect(coarser.bitmap.dirtyRegions()).toEqual([0]);
    await coarser.bitmap.close();
  });
});

describe('RegionLock', () => {
  it('lets writes share regions, makes resync wait for them and new writes wait for resync', async () => {
    const lock = new RegionLock();
    const events: string[] = [];
    await lock.shared(0, 2);
    const ex = lock.exclusive(1).then(() => events.push('resync got 1'));
    await sleep(5);
    expect(events).toEqual([]);
    // A new write to region 1 queues behind the waiting resync; region 5 is free.
    const w2 = lock.shared(1, 1).then(() => events.push('write got 1'));
    await lock.shared(5, 5);
    events.push('write got 5');
    lock.releaseShared(0, 2);
    await ex;
    await sleep(5);
    expect(events).toEqual(['write got 5', 'resync got 1']);
    lock.releaseExclusive(1);
    await w2;
    expect(events).toEqual(['write got 5', 'resync got 1', 'write got 1']);
    expect(lock.busy(1)).toBe(true);
    lock.releaseShared(1, 1);
    lock.releaseShared(5, 5);
    expect(lock.busy(1)).toBe(false);
  });

  it('tryShared takes free regions at once, and refuses (taking nothing) while resync holds or waits for one', async () => {
    const lock = new RegionLock();
    expect(lock.tryShared(0, 1)).toBe(true);
    expect(lock.busy(0) && lock.busy(1)).toBe(true);
    const ex = lock.exclusive(1); // waits for the write on 0..1
    expect(lock.tryShared(1, 2)).toBe(false);
    expect(lock.busy(2)).toBe(false);
    expect(lock.tryShared(3, 3)).toBe(true);
    lock.releaseShared(0, 1);
    await ex;
    expect(lock.tryShared(1, 1)).toBe(false);
    lock.releaseExclusive(1);
    expect(lock.tryShared(1, 1)).toBe(true);
    lock.releaseShared(1, 1);
    lock.releaseShared(3, 3);
    expect([0, 1, 2, 3].some((r) => lock.busy(r))).toBe(false);
  });
});

describe('ReplicatedVolume on a FileDevice', () => {
  const open = async (device: BlockDevice, canServe: () => boolean, timing = {}) => {
    const v = new ReplicatedVolume({
      volume: 'vol1',
      node: 'a',
      logger: silentLogger(),
      device,
      stateDir: path.join(dir, 'state'),
      inSync: new FakeInSync('a'),
      peers: () => [],
      replicas: () => ['b'],
      canServeWrites: canServe,
      timing,
    });
    await v.open();
    return v;
  };

  it('has the region marked on disk before the local write starts, and after a crash-like reopen', async () => {
    const data = path.join(dir, 'vol1.img');
    const bitmapFile = path.join(dir, 'state', 'vol1.bitmap');
    const inner = await FileDevice.open(data, { createSize: 8 * MiB });
    let markedBeforeWrite: boolean | undefined;
    const spy: BlockDevice = {
      size: inner.size,
      description: inner.description,
      read: (o, l) => inner.read(o, l),
      write: (o, d, f) => {
        markedBeforeWrite = bitOnDisk(bitmapFile, Math.floor(o / MiB));
        return inner.write(o, d, f);
      },
      flush: () => inner.flush(),
      close: () => inner.close(),
    };
    const v = await open(spy, () => true);
    await v.initDataset('ds1');
    await v.becamePrimary(1);
    await v.blockDevice.write(5 * MiB + 4096, pattern(4096, 1), true);
    expect(markedBeforeWrite).toBe(true);
    expect(v.status()).toMatchObject({ dirtyRegions: 1, dirtyBytes: MiB, role: 'primary', epoch: 1 });
    await v.close();
    const inner2 = await FileDevice.open(data);
    const v2 = await open(inner2, () => true);
    expect(v2.status()).toMatchObject({
      dirtyRegions: 1,
      highestEpoch: 1,
      hasValidData: true,
      datasetId: 'ds1',
    });
    expect((await v2.blockDevice.read(5 * MiB + 4096, 4096)).equals(pattern(4096, 1))).toBe(true);
    await v2.close();
  });

  it('treats every region as dirty when the bitmap of a volume with data is lost', async () => {
    const data = path.join(dir, 'vol1.img');
    const v = await open(await FileDevice.open(data, { createSize: 4 * MiB }), () => true);
    await v.initDataset('ds1');
    await v.close();
    fs.rmSync(path.join(dir, 'state', 'vol1.bitmap'));
    const v2 = await open(await FileDevice.open(data), () => true);
    expect(v2.status().dirtyRegions).toBe(4);
    await v2.close();
  });

  it('clears dirty bits when there are no other replicas and the region is quiet', async () => {
    const v = new ReplicatedVolume({
      volume: 'vol1',
      node: 'a',
      logger: silentLogger(),
      device: await FileDevice.open(path.join(dir, 'vol1.img'), { createSize: 4 * MiB }),
      stateDir: path.join(dir, 'state'),
      inSync: new FakeInSync('a'),
      peers: () => [],
      replicas: () => [],
      canServeWrites: () => true,
      timing: { cleanAfterMs: 100 },
    });
    await v.open();
    await v.initDataset('ds1');
    await v.becamePrimary(1);
    await v.blockDevice.write(0, pattern(4096, 1), false);
    expect(bitOnDisk(path.join(dir, 'state', 'vol1.bitmap'), 0)).toBe(true);
    const end = Date.now() + 3000;
    while (bitOnDisk(path.join(dir, 'state', 'vol1.bitmap'), 0) && Date.now() < end) await sleep(20);
    expect(bitOnDisk(path.join(dir, 'state', 'vol1.bitmap'), 0)).toBe(false);
    await v.close();
  });
});
