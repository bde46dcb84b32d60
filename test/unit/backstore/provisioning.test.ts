// Backing stores under thin provisioning: the RAM disk's page allocation, the file backstore's
// holes through the native helper (fallocate PUNCH_HOLE, SEEK_DATA/SEEK_HOLE), and what GET
// LBA STATUS makes of them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileDevice } from '../../../src/backstore/file.js';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { nativeHelper } from '../../../src/backstore/native.js';
import {
  getLbaStatusCdb,
  Loopback,
  lbaStatusDescriptors,
  unmapCdb,
  unmapList,
} from '../../helpers/loopback.js';
import { kcq } from '../../helpers/wire.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('MemoryDevice allocation', () => {
  it('tracks 4 KiB pages: writes allocate, whole-page discards release, chunks are freed', async () => {
    const m = new MemoryDevice(4 * MiB);
    expect(await m.allocation(0, 4 * MiB)).toEqual({ mapped: false, length: 4 * MiB });
    await m.write(8 * KiB, Buffer.alloc(512, 1), false);
    expect(await m.allocation(0, 4 * MiB)).toEqual({ mapped: false, length: 8 * KiB });
    expect(await m.allocation(8 * KiB, 4 * MiB - 8 * KiB)).toEqual({ mapped: true, length: 4 * KiB });
    expect(m.allocatedBytes).toBe(MiB);
    // A partial page is zeroed but stays allocated.
    await m.discard(8 * KiB, 512);
    expect((await m.read(8 * KiB, 512)).equals(Buffer.alloc(512))).toBe(true);
    expect((await m.allocation(8 * KiB, KiB)).mapped).toBe(true);
    await m.discard(8 * KiB, 4 * KiB);
    expect(await m.allocation(0, 4 * MiB)).toEqual({ mapped: false, length: 4 * MiB });
    expect(m.allocatedBytes).toBe(0);
  });

  it('a write spanning two chunks maps pages in both', async () => {
    const m = new MemoryDevice(4 * MiB);
    await m.write(MiB - 4 * KiB, Buffer.alloc(8 * KiB, 2), false);
    expect(await m.allocation(MiB - 8 * KiB, 16 * KiB)).toEqual({ mapped: false, length: 4 * KiB });
    expect(await m.allocation(MiB - 4 * KiB, 16 * KiB)).toEqual({ mapped: true, length: 8 * KiB });
  });
});

describe('FileDevice with the native helper', () => {
  let dir: string;
  let dev: FileDevice;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-sbc-'));
    dev = await FileDevice.open(path.join(dir, 'lu.img'), { createSize: 16 * MiB });
  });
  afterEach(async () => {
    await dev.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the helper is built (npm ci runs node-gyp on binding.gyp)', () => {
    expect(nativeHelper()).toBeDefined();
  });

  it('discard punches a hole that reads as zeroes and releases the space', async () => {
    await dev.write(0, Buffer.alloc(4 * MiB, 0x5a), true);
    const before = fs.statSync(path.join(dir, 'lu.img')).blocks;
    await dev.discard(MiB, 2 * MiB);
    expect((await dev.read(MiB, 2 * MiB)).equals(Buffer.alloc(2 * MiB))).toBe(true);
    expect((await dev.read(0, 4)).equals(Buffer.alloc(4, 0x5a))).toBe(true);
    const after = fs.statSync(path.join(dir, 'lu.img')).blocks;
    expect(before - after).toBeGreaterThanOrEqual((2 * MiB) / 512 - 16);
    expect(await dev.allocation(0, 16 * MiB)).toEqual({ mapped: true, length: MiB });
    expect(await dev.allocation(MiB, 15 * MiB)).toEqual({ mapped: false, length: 2 * MiB });
    expect(await dev.allocation(3 * MiB, 13 * MiB)).toEqual({ mapped: true, length: MiB });
    expect(await dev.allocation(4 * MiB, 12 * MiB)).toEqual({ mapped: false, length: 12 * MiB });
  });

  it('UNMAP through the engine shows up in GET LBA STATUS as deallocated runs', async () => {
    const h = new Loopback({ device: dev });
    await h.ready();
    await dev.write(0, Buffer.alloc(MiB, 1), false);
    const list = unmapList([[256, 512]]);
    expect(kcq(await h.run({ cdb: unmapCdb(list.length), dataOut: list }))).toBe('GOOD');
    const c = await h.run({ cdb: getLbaStatusCdb(0, 1024) });
    expect(lbaStatusDescriptors(c.data!)).toEqual([
      [0, 256, 0],
      [256, 512, 1],
      [768, 1280, 0],
      [2048, 32768 - 2048, 1],
    ]);
  });
});
