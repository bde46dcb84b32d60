// The native helper's reader threads (readPooled): the reads a FileDevice sends off the loop
// when the page cache does not hold them. Real files, real threads.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileDevice } from '../../../src/backstore/file.js';
import { nativeHelper } from '../../../src/backstore/native.js';

const native = nativeHelper()!;
const EAGAIN = os.constants.errno.EAGAIN;

describe('readPooled (native reader threads)', () => {
  let dir: string;
  let file: string;
  let fd: number;
  const data = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7 + (i >> 12)) & 0xff));
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-readers-'));
    file = path.join(dir, 'r.img');
    fs.writeFileSync(file, data);
    fd = fs.openSync(file, 'r');
  });
  afterEach(() => {
    vi.restoreAllMocks();
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('thousands of concurrent reads each land in their own buffer, with the right bytes', async () => {
    const bufs = Array.from({ length: 5000 }, () => Buffer.alloc(4096));
    const at = (i: number) => ((i * 37) % 256) * 4096;
    const counts = await Promise.all(bufs.map((b, i) => native.readPooled!(fd, b, at(i))));
    expect(counts.every((n) => n === 4096)).toBe(true);
    for (const [i, b] of bufs.entries()) expect(b.equals(data.subarray(at(i), at(i) + 4096))).toBe(true);
  });

  it('a read at the end of the file gives 0, across it the bytes there are; an error rejects with its errno', async () => {
    expect(await native.readPooled!(fd, Buffer.alloc(512), 1 << 20)).toBe(0);
    const tail = Buffer.alloc(8192);
    expect(await native.readPooled!(fd, tail, (1 << 20) - 4096)).toBe(4096);
    expect(tail.subarray(0, 4096).equals(data.subarray((1 << 20) - 4096))).toBe(true);
    const wo = fs.openSync(path.join(dir, 'w.img'), 'w');
    try {
      await expect(native.readPooled!(wo, Buffer.alloc(512), 0)).rejects.toMatchObject({
        code: 'EBADF',
        errno: 9,
      });
    } finally {
      fs.closeSync(wo);
    }
  });

  it('a FileDevice read that the page cache does not hold goes to the readers; with their queue full, to the pool', async () => {
    const d = await FileDevice.open(file, { inlineReads: false });
    try {
      const readers = vi.spyOn(native, 'readPooled');
      const pool = vi.spyOn(fs, 'read');
      expect((await d.read(4096, 8192)).equals(data.subarray(4096, 4096 + 8192))).toBe(true);
      expect(readers).toHaveBeenCalledTimes(1);
      expect(pool).not.toHaveBeenCalled();
      readers.mockReturnValue(-EAGAIN);
      expect((await d.read(65536, 4096)).equals(data.subarray(65536, 65536 + 4096))).toBe(true);
      expect(pool).toHaveBeenCalledTimes(1);
    } finally {
      await d.close();
    }
  });
});
