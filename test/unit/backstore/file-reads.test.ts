// FileDevice reads: served inline from the page cache when cached (copied out of a read-only
// mapping after mincore, or without one preadv2 RWF_NOWAIT, through the native helper), through
// the thread pool (fs.read) for what is not, with a backoff after a slow inline read. The native
// helper is real. In the preadv2 tests "not cached" is simulated by wrapping it; the mapped tests
// use pages that really are not in the cache (a range truncated away and grown back: a hole whose
// pages the truncation dropped), since a test cannot make the kernel evict a file's pages.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileDevice } from '../../../src/backstore/file.js';
import { MappedResidency } from '../../../src/backstore/mapped-residency.js';
import { nativeHelper } from '../../../src/backstore/native.js';

const MiB = 1 << 20;
const pattern = (n: number, seed: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff));
const native = nativeHelper();
const EAGAIN = os.constants.errno.EAGAIN;
const EOPNOTSUPP = os.constants.errno.EOPNOTSUPP;
const EFAULT = os.constants.errno.EFAULT;

const rssFileBytes = () =>
  Number(/^RssFile:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

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
  /** A device whose cached reads use preadv2 (no mapping), unless `inlineReads` says otherwise. */
  async function dev(opts?: Parameters<typeof FileDevice.open>[1]) {
    const inlineReads =
      opts?.inlineReads === false
        ? false
        : { mapped: false, ...(opts?.inlineReads === true ? {} : opts?.inlineReads) };
    const d = await FileDevice.open(path.join(dir, 'r.img'), { createSize: 4 * MiB, ...opts, inlineReads });
    open.push(d);
    return d;
  }

  describe('copied out of a mapping (the default)', () => {
    async function mappedDev(opts?: Parameters<typeof FileDevice.open>[1]) {
      const d = await FileDevice.open(path.join(dir, 'r.img'), { createSize: 4 * MiB, ...opts });
      open.push(d);
      return d;
    }

    it('a cached read is copied from the mapping: no preadv2, no thread-pool read, the right bytes', async () => {
      const d = await mappedDev();
      await d.write(8192, pattern(16384, 3), false);
      const pool = vi.spyOn(native!, 'readPooled');
      const nowait = vi.spyOn(native!, 'readNoWait');
      const mapped = vi.spyOn(native!, 'readMapped');
      expect((await d.read(8192, 16384)).equals(pattern(16384, 3))).toBe(true);
      expect((await d.read(8192 + 512, 512)).equals(pattern(16384, 3).subarray(512, 1024))).toBe(true);
      expect(mapped).toHaveBeenCalledTimes(2);
      expect(mapped.mock.results.map((r) => r.value)).toEqual([16384, 512]);
      expect(nowait).not.toHaveBeenCalled();
      expect(pool).not.toHaveBeenCalled();
    });

    it('pages not in the page cache are not touched on the loop: -EAGAIN, the pool reads them', async () => {
      const file = path.join(dir, 'r.img');
      const d = await mappedDev();
      await d.write(0, pattern(MiB, 4), false);
      await d.flush();
      // Truncation drops the pages from the cache; growing back leaves a hole, uncached.
      fs.truncateSync(file, 64 * 1024);
      fs.truncateSync(file, 4 * MiB);
      const mapped = vi.spyOn(native!, 'readMapped');
      const pool = vi.spyOn(native!, 'readPooled');
      const got = await d.read(128 * 1024, 8192);
      expect(got.equals(Buffer.alloc(8192))).toBe(true);
      expect(mapped.mock.results[0]!.value).toBe(-EAGAIN);
      expect(pool).toHaveBeenCalledTimes(1);
      // A range cached at its start only is not copied in part: the pool reads it whole.
      const straddle = await d.read(60 * 1024, 8192);
      expect(straddle.subarray(0, 4096).equals(pattern(MiB, 4).subarray(60 * 1024, 64 * 1024))).toBe(true);
      expect(straddle.subarray(4096).equals(Buffer.alloc(4096))).toBe(true);
      expect(mapped.mock.results[1]!.value).toBe(-EAGAIN);
      expect(pool).toHaveBeenCalledTimes(2);
    });

    it('a file that shrank underneath: reads past its end return zeroes and the node lives (no SIGBUS)', async () => {
      const file = path.join(dir, 'r.img');
      const d = await mappedDev();
      await d.write(0, pattern(4 * MiB, 6), false);
      expect((await d.read(MiB, 4096)).equals(pattern(4 * MiB, 6).subarray(MiB, MiB + 4096))).toBe(true);
      fs.truncateSync(file, 4096);
      const mapped = vi.spyOn(native!, 'readMapped');
      for (const at of [4096, MiB, 4 * MiB - 4096]) {
        expect((await d.read(at, 4096)).equals(Buffer.alloc(4096))).toBe(true);
      }
      // Each one either found the page gone (-EAGAIN) or touched it and was caught (-EFAULT).
      for (const r of mapped.mock.results) expect([-EAGAIN, -EFAULT]).toContain(r.value);
      expect((await d.read(0, 4096)).equals(pattern(4096, 6))).toBe(true);
    });

    it('after grow() the new end is mapped too', async () => {
      const d = await mappedDev();
      await d.grow(8 * MiB);
      await d.write(6 * MiB, pattern(4096, 2), false);
      const mapped = vi.spyOn(native!, 'readMapped');
      const pool = vi.spyOn(native!, 'readPooled');
      expect((await d.read(6 * MiB, 4096)).equals(pattern(4096, 2))).toBe(true);
      expect(mapped.mock.results[0]!.value).toBe(4096);
      expect(pool).not.toHaveBeenCalled();
    });

    it('the pages copies mapped are unmapped again, oldest chunk first, past the budget: RSS stays bounded', async () => {
      const residency = new MappedResidency(8 * MiB); // 4 chunks of 2 MiB
      const d = await mappedDev({ createSize: 32 * MiB, inlineReads: { residency } });
      for (let at = 0; at < 32 * MiB; at += MiB) await d.write(at, Buffer.alloc(MiB, at / MiB), false);
      const drop = vi.spyOn(native!, 'dropMapped');
      const before = rssFileBytes();
      for (let at = 0; at < 8 * MiB; at += 64 * 1024) await d.read(at, 64 * 1024);
      expect(drop).not.toHaveBeenCalled();
      expect(rssFileBytes() - before).toBeGreaterThanOrEqual(6 * MiB);
      for (let at = 8 * MiB; at < 32 * MiB; at += 64 * 1024) await d.read(at, 64 * 1024);
      // 24 MiB more read: 12 chunks dropped, the oldest first, whole chunks only.
      expect(drop.mock.calls.map((c) => [c[1], c[2]])).toEqual(
        Array.from({ length: 12 }, (_, i) => [i * 2 * MiB, 2 * MiB]),
      );
      expect(residency.count).toBe(4);
      expect(rssFileBytes() - before).toBeLessThan(12 * MiB);
      // A dropped chunk is still served from the mapping (the page cache kept it).
      const mapped = vi.spyOn(native!, 'readMapped');
      expect((await d.read(5 * MiB, 4096)).equals(Buffer.alloc(4096, 5))).toBe(true);
      expect(mapped.mock.results[0]!.value).toBe(4096);
    });

    it('mapped: false, or a helper without mapFile: preadv2 as before', async () => {
      const d = await mappedDev({ inlineReads: { mapped: false } });
      await d.write(0, pattern(4096, 1), false);
      const nowait = vi.spyOn(native!, 'readNoWait');
      const mapped = vi.spyOn(native!, 'readMapped');
      expect((await d.read(0, 4096)).equals(pattern(4096, 1))).toBe(true);
      expect(nowait).toHaveBeenCalledTimes(1);
      expect(mapped).not.toHaveBeenCalled();
    });
  });

  it('a cached read is served inline: no thread-pool read, the right bytes', async () => {
    const d = await dev();
    await d.write(8192, pattern(16384, 3), false);
    const pool = vi.spyOn(native!, 'readPooled');
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
    const pool = vi.spyOn(native!, 'readPooled');
    const got = await d.read(0, 8192);
    expect(got.equals(pattern(8192, 5))).toBe(true);
    expect(pool).toHaveBeenCalledTimes(1);
    const [, into, at] = pool.mock.calls[0]!;
    expect([into.length, at]).toEqual([8192, 0]); // the whole read, from its start
  });

  it('cached only at its start: the inline part stays, the pool reads the rest', async () => {
    const d = await dev();
    await d.write(4096, pattern(12288, 9), false);
    const real = native!.readNoWait.bind(native);
    vi.spyOn(native!, 'readNoWait').mockImplementation((fd, buffers, position) =>
      real(fd, [buffers[0]!.subarray(0, 1000)], position),
    );
    const pool = vi.spyOn(native!, 'readPooled');
    const got = await d.read(4096, 12288);
    expect(got.equals(pattern(12288, 9))).toBe(true);
    expect(pool).toHaveBeenCalledTimes(1);
    // Continues where the page cache stopped: the rest of the buffer, from that file offset.
    const [, into, at] = pool.mock.calls[0]!;
    expect([into.length, at]).toEqual([12288 - 1000, 4096 + 1000]);
  });

  it('a file system without RWF_NOWAIT: one warning, then every read through the pool', async () => {
    const warnings: string[] = [];
    const d = await dev({ warn: (m) => warnings.push(m) });
    await d.write(0, pattern(4096, 1), false);
    const nowait = vi.spyOn(native!, 'readNoWait').mockReturnValue(-EOPNOTSUPP);
    const pool = vi.spyOn(native!, 'readPooled');
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
    const pool = vi.spyOn(native!, 'readPooled');
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
    const pool = vi.spyOn(native!, 'readPooled');
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
      const pool = vi.spyOn(native!, 'readPooled');
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
      const pool = vi.spyOn(native!, 'readPooled');
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

  it('inline read (preadv2) at the end of a file that shrank underneath returns zeroes', async () => {
    const d = await dev();
    await d.write(0, pattern(4096, 6), false);
    fs.truncateSync(path.join(dir, 'r.img'), 4096);
    const got = await d.read(4096, 4096);
    expect(got.equals(Buffer.alloc(4096))).toBe(true);
  });
});
