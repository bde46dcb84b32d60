// MemoryDevice: a sparse RAM disk in 1 MiB chunks.
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../src/backstore/memory.js';

const MiB = 1 << 20;
const pattern = (n: number, seed: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff));

describe('MemoryDevice', () => {
  it('reports its size and reads zeroes before any write', async () => {
    const d = new MemoryDevice(4 * MiB);
    expect(d.size).toBe(4 * MiB);
    expect((await d.read(0, 4096)).equals(Buffer.alloc(4096))).toBe(true);
    expect((await d.read(4 * MiB - 512, 512)).equals(Buffer.alloc(512))).toBe(true);
  });

  it('a huge device costs nothing until written (sparse)', async () => {
    const d = new MemoryDevice(2 ** 50);
    expect((await d.read(2 ** 49, 512)).equals(Buffer.alloc(512))).toBe(true);
    await d.write(2 ** 49, Buffer.alloc(512, 7), false);
    expect((await d.read(2 ** 49, 512)).equals(Buffer.alloc(512, 7))).toBe(true);
  });

  it('write then read, at offsets inside a chunk and across chunk boundaries', async () => {
    const d = new MemoryDevice(8 * MiB);
    const cases: Array<[number, number]> = [
      [0, 512],
      [4096, 8192],
      [MiB - 512, 1024],
      [MiB - 1, 3],
      [2 * MiB - 4096, 2 * MiB + 8192],
    ];
    for (const [off, len] of cases) {
      const data = pattern(len, off & 0xff);
      await d.write(off, data, false);
      expect((await d.read(off, len)).equals(data), `${off}+${len}`).toBe(true);
    }
  });

  it('writes do not disturb their neighbours', async () => {
    const d = new MemoryDevice(2 * MiB);
    await d.write(MiB - 512, Buffer.alloc(1024, 0x55), false);
    const around = await d.read(MiB - 1024, 2048);
    expect(around.subarray(0, 512).equals(Buffer.alloc(512))).toBe(true);
    expect(around.subarray(512, 1536).equals(Buffer.alloc(1024, 0x55))).toBe(true);
    expect(around.subarray(1536).equals(Buffer.alloc(512))).toBe(true);
  });

  it('the buffer read is a copy: changing it or the written buffer changes nothing', async () => {
    const d = new MemoryDevice(MiB);
    const data = Buffer.alloc(512, 1);
    await d.write(0, data, false);
    data.fill(2);
    const r = await d.read(0, 512);
    r.fill(3);
    expect((await d.read(0, 512)).equals(Buffer.alloc(512, 1))).toBe(true);
  });

  it('discard: a partial chunk and whole chunks read back as zeroes, the rest survives', async () => {
    const d = new MemoryDevice(4 * MiB);
    await d.write(0, Buffer.alloc(4 * MiB, 0xee), false);
    await d.discard(4096, 4096);
    await d.discard(2 * MiB, MiB);
    const all = await d.read(0, 4 * MiB);
    expect(all.subarray(0, 4096).every((x) => x === 0xee)).toBe(true);
    expect(all.subarray(4096, 8192).every((x) => x === 0)).toBe(true);
    expect(all.subarray(8192, 2 * MiB).every((x) => x === 0xee)).toBe(true);
    expect(all.subarray(2 * MiB, 3 * MiB).every((x) => x === 0)).toBe(true);
    expect(all.subarray(3 * MiB).every((x) => x === 0xee)).toBe(true);
    // A discarded whole chunk can be written again.
    await d.write(2 * MiB, Buffer.alloc(512, 9), false);
    expect((await d.read(2 * MiB, 512)).equals(Buffer.alloc(512, 9))).toBe(true);
  });

  it('discard of a never-written range is harmless', async () => {
    const d = new MemoryDevice(4 * MiB);
    await d.discard(0, 4 * MiB);
    expect((await d.read(0, 512)).equals(Buffer.alloc(512))).toBe(true);
  });

  it('flush resolves; FUA writes are ordinary writes in RAM', async () => {
    const d = new MemoryDevice(MiB);
    await d.write(0, Buffer.alloc(512, 4), true);
    await expect(d.flush()).resolves.toBeUndefined();
    expect((await d.read(0, 512)).equals(Buffer.alloc(512, 4))).toBe(true);
  });

  it('close drops the contents', async () => {
    const d = new MemoryDevice(MiB);
    await d.write(0, Buffer.alloc(512, 4), false);
    await d.close();
    expect((await d.read(0, 512)).equals(Buffer.alloc(512))).toBe(true);
  });
});
