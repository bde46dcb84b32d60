// FileDevice reads: served inline from the page cache (preadv2 RWF_NOWAIT through the native
// helper) when cached, through the thread pool (fs.read) for what is not, with a backoff after a
// slow inline read. The native helper is real; "not cached" is simulated by wrapping it, since a
// test cannot make the kernel evict a file's pages reliably.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileDevice } from '../../../src/backstore/file.js';
import { nativeHelper } from '../../../src/backstore/native.js';

const MiB = 1 << 20;
const pattern = (n: number, seed: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff));
const native = nativeHelper();
const EAGAIN = os.constants.errno.EAGAIN;
const EOPNOTSUPP = os.constants.errno.EOPNOTSUPP;

describe('FileDevice reads', () => {
  let dir: string;
  const open: FileDevice[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-reads-'));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const d of open.splice(0)) await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  async function dev(opts?: Parameters<typeof FileDevice.open>[1]) {
    const d = await FileDevice.open(path.join(dir, 'r.img'), { createSize: 4 * MiB, ...opts });
    open.push(d);
    return d;
  }

  it('a cached read is served inline: no thread-pool read, the right bytes', async () => {
    const d = await dev();
    await d.write(8192, pattern(16384, 3), false);
    const pool = vi.spyOn(fs, 'read');
    const nowait = vi.spyOn(native!, 'readNoWait');
    const got = await d.read(8192, 16384);
    expect(got.equals(pattern(16384, 3))).toBe(true);
    expect(nowait).toHaveBeenCalledTimes(1);
    expect(pool).not.toHaveBeenCalled();
  });

  it('not cached (EAGAIN): the thread pool reads it all', async () => {
    const d = await dev();
    await d.write(0, pattern(8192, 5), false);
    vi.spyOn(native!, 'readNoWait').mockReturnValue(-EAGAIN);
    const pool = vi.spyOn(fs, 'read');
    const got = await d.read(0, 8192);
    expect(got.equals(pattern(8192, 5))).toBe(true);
    expect(pool).toHaveBeenCalledTimes(1);
    expect((pool.mock.calls[0] as unknown[])[2]).toBe(0); // buffer offset: from the start
  });

  it('cached only at its start: the inline part stays, the pool reads the rest', async () => {
    const d = await dev();
    await d.write(4096, pattern(12288, 9), false);
    const real = native!.readNoWait.bind(native);
    vi.spyOn(native!, 'readNoWait').mockImplementation((fd, buffers, position) =>
      real(fd, [buffers[0]!.subarray(0, 1000)], position),
    );
    const pool = vi.spyOn(fs, 'read');
    const got = await d.read(4096, 12288);
    expect(got.equals(pattern(12288, 9))).toBe(true);
    expect(pool).toHaveBeenCalledTimes(1);
    expect((pool.mock.calls[0] as unknown[])[2]).toBe(1000); // continues where the page cache stopped
    expect((pool.mock.calls[0] as unknown[])[4]).toBe(4096 + 1000);
  });

  it('a file system without RWF_NOWAIT: one warning, then every read through the pool', async () => {
    const warnings: string[] = [];
    const d = await dev({ warn: (m) => warnings.push(m) });
    await d.write(0, pattern(4096, 1), false);
    const nowait = vi.spyOn(native!, 'readNoWait').mockReturnValue(-EOPNOTSUPP);
    const pool = vi.spyOn(fs, 'read');
    for (let i = 0; i < 3; i++) expect((await d.read(0, 4096)).equals(pattern(4096, 1))).toBe(true);
    expect(nowait).toHaveBeenCalledTimes(1);
    expect(pool).toHaveBeenCalledTimes(3);
    expect(warnings.filter((w) => /RWF_NOWAIT/.test(w))).toHaveLength(1);
  });

  it('a slow inline read sends reads to the pool for the backoff, warned of once, then inline again', async () => {
    let clock = 0;
    const warnings: string[] = [];
    const d = await dev({
      warn: (m) => warnings.push(m),
      inlineReads: { slowMs: 2, backoffMs: 1000, slowInRow: 1, now: () => clock },
    });
    await d.write(0, pattern(4096, 2), false);
    const real = native!.readNoWait.bind(native);
    const nowait = vi.spyOn(native!, 'readNoWait').mockImplementationOnce((fd, buffers, position) => {
      clock += 30;
      return real(fd, buffers, position);
    });
    const pool = vi.spyOn(fs, 'read');
    expect((await d.read(0, 4096)).equals(pattern(4096, 2))).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /4096-byte read took 30\.0 ms .*reads go through the thread pool for 1000 ms/,
    );
    clock += 500;
    expect((await d.read(0, 4096)).equals(pattern(4096, 2))).toBe(true);
    expect(pool).toHaveBeenCalledTimes(1);
    expect(nowait).toHaveBeenCalledTimes(1);
    clock += 600;
    expect((await d.read(0, 4096)).equals(pattern(4096, 2))).toBe(true);
    expect(nowait).toHaveBeenCalledTimes(2);
    expect(pool).toHaveBeenCalledTimes(1);
  });

  it('by default one slow inline read is not enough (a descheduled thread); two in a row back off', async () => {
    let clock = 0;
    const warnings: string[] = [];
    const d = await dev({ warn: (m) => warnings.push(m), inlineReads: { slowMs: 2, now: () => clock } });
    await d.write(0, pattern(4096, 3), false);
    const real = native!.readNoWait.bind(native);
    const nowait = vi.spyOn(native!, 'readNoWait').mockImplementation((fd, buffers, position) => {
      clock += 10;
      return real(fd, buffers, position);
    });
    const pool = vi.spyOn(fs, 'read');
    expect((await d.read(0, 4096)).equals(pattern(4096, 3))).toBe(true);
    expect(warnings).toHaveLength(0);
    expect((await d.read(0, 4096)).equals(pattern(4096, 3))).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/4096-byte read took 10\.0 ms .*thread pool for 1000 ms/);
    expect((await d.read(0, 4096)).equals(pattern(4096, 3))).toBe(true);
    expect(nowait).toHaveBeenCalledTimes(2);
    expect(pool).toHaveBeenCalledTimes(1);
  });

  it('reads larger than 1 MiB go to the pool whole; inlineReads: false sends every read there', async () => {
    const d = await dev();
    await d.write(0, pattern(2 * MiB, 4), false);
    const nowait = vi.spyOn(native!, 'readNoWait');
    expect((await d.read(0, 2 * MiB)).equals(pattern(2 * MiB, 4))).toBe(true);
    expect(nowait).not.toHaveBeenCalled();
    const off = await FileDevice.open(path.join(dir, 'r.img'), { inlineReads: false });
    open.push(off);
    expect((await off.read(0, 4096)).equals(pattern(4096, 4))).toBe(true);
    expect(nowait).not.toHaveBeenCalled();
  });

  describe('after a miss (the cache is cold)', () => {
    // The probe (cachestat) is faked: the real one needs Linux 6.5 and a rebuilt helper.
    const helper = native as { isCached?: (fd: number, offset: number, length: number) => number };
    const realIsCached = helper.isCached;
    afterEach(() => {
      if (realIsCached) helper.isCached = realIsCached;
      else delete helper.isCached;
    });

    it('reads probe first: uncached goes to the pool untried, cached inline; warm again after warmAfter hits', async () => {
      const cached = { yes: false };
      const probe = vi.fn(() => (cached.yes ? 1 : 0));
      helper.isCached = probe;
      const d = await dev({ inlineReads: { warmAfter: 3 } });
      await d.write(0, pattern(8192, 7), false);
      const nowait = vi.spyOn(native!, 'readNoWait').mockReturnValueOnce(-EAGAIN);
      const pool = vi.spyOn(fs, 'read');
      expect((await d.read(0, 4096)).equals(pattern(4096, 7))).toBe(true); // the miss
      expect(nowait).toHaveBeenCalledTimes(1);
      expect(probe).not.toHaveBeenCalled();
      for (let i = 0; i < 2; i++)
        expect((await d.read(4096, 4096)).equals(pattern(8192, 7).subarray(4096))).toBe(true);
      expect(probe).toHaveBeenCalledTimes(2);
      expect(probe).toHaveBeenLastCalledWith(expect.any(Number), 4096, 4096);
      expect(nowait).toHaveBeenCalledTimes(1); // the probe said uncached: not tried inline
      expect(pool).toHaveBeenCalledTimes(3);
      cached.yes = true;
      for (let i = 0; i < 3; i++) expect((await d.read(0, 8192)).equals(pattern(8192, 7))).toBe(true);
      expect(probe).toHaveBeenCalledTimes(5);
      expect(nowait).toHaveBeenCalledTimes(4);
      expect(pool).toHaveBeenCalledTimes(3);
      // Three probed hits in a row: warm, no more probing.
      expect((await d.read(0, 4096)).equals(pattern(4096, 7))).toBe(true);
      expect(probe).toHaveBeenCalledTimes(5);
      expect(nowait).toHaveBeenCalledTimes(5);
    });

    it('without a probe (an old helper): the pool for retryMs after a miss, then inline again', async () => {
      delete helper.isCached;
      let clock = 0;
      const d = await dev({ inlineReads: { retryMs: 250, now: () => clock } });
      await d.write(0, pattern(4096, 8), false);
      const nowait = vi.spyOn(native!, 'readNoWait').mockReturnValueOnce(-EAGAIN);
      const pool = vi.spyOn(fs, 'read');
      expect((await d.read(0, 4096)).equals(pattern(4096, 8))).toBe(true);
      clock += 100;
      expect((await d.read(0, 4096)).equals(pattern(4096, 8))).toBe(true);
      expect(nowait).toHaveBeenCalledTimes(1);
      expect(pool).toHaveBeenCalledTimes(2);
      clock += 200;
      expect((await d.read(0, 4096)).equals(pattern(4096, 8))).toBe(true);
      expect(nowait).toHaveBeenCalledTimes(2);
      expect(pool).toHaveBeenCalledTimes(2);
    });

    it('a probe that fails (no cachestat) is not asked again', async () => {
      const probe = vi.fn(() => -os.constants.errno.ENOSYS);
      helper.isCached = probe;
      const d = await dev();
      await d.write(0, pattern(4096, 9), false);
      vi.spyOn(native!, 'readNoWait').mockReturnValueOnce(-EAGAIN);
      for (let i = 0; i < 3; i++) expect((await d.read(0, 4096)).equals(pattern(4096, 9))).toBe(true);
      expect(probe).toHaveBeenCalledTimes(1);
    });
  });

  it('inline read at the end of a file that shrank underneath returns zeroes', async () => {
    const d = await dev();
    await d.write(0, pattern(4096, 6), false);
    fs.truncateSync(path.join(dir, 'r.img'), 4096);
    const got = await d.read(4096, 4096);
    expect(got.equals(Buffer.alloc(4096))).toBe(true);
  });
});
