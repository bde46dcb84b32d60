// FileDevice on temporary regular files: creation (sparse), reopen, read/write/flush/discard.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileDevice } from '../../../src/backstore/file.js';
import { TandemError } from '../../../src/util/errors.js';

const MiB = 1 << 20;
const pattern = (n: number, seed: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

describe('FileDevice', () => {
  let dir: string;
  const open: FileDevice[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-file-'));
  });
  afterEach(async () => {
    for (const d of open.splice(0)) await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  async function dev(file: string, opts?: Parameters<typeof FileDevice.open>[1]) {
    const d = await FileDevice.open(path.join(dir, file), opts);
    open.push(d);
    return d;
  }

  it('creates a missing file sparse, of exactly createSize bytes, mode 0600', async () => {
    const d = await dev('a.img', { createSize: 256 * MiB });
    const st = fs.statSync(path.join(dir, 'a.img'));
    expect(d.size).toBe(256 * MiB);
    expect(st.size).toBe(256 * MiB);
    expect(st.blocks * 512).toBeLessThan(MiB);
    expect(st.mode & 0o777).toBe(0o600);
    expect(d.description).toBe(`file:${path.join(dir, 'a.img')}`);
    expect(d.isBlockDevice).toBe(false);
  });

  it('creates missing parent directories', async () => {
    const d = await dev('sub/dir/b.img', { createSize: MiB });
    expect(d.size).toBe(MiB);
  });

  it('a missing file without createSize → TANDEM_ERR_BACKSTORE_OPEN', async () => {
    const err = await FileDevice.open(path.join(dir, 'none.img')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TandemError);
    expect((err as TandemError).code).toBe('TANDEM_ERR_BACKSTORE_OPEN');
  });

  it('a directory is not a backing store', async () => {
    const err = await FileDevice.open(dir).catch((e: unknown) => e);
    expect((err as TandemError).code).toBe('TANDEM_ERR_BACKSTORE_OPEN');
  });

  it('write, read back, flush; data survives close and reopen; reopen keeps the size', async () => {
    const file = 'c.img';
    const d = await dev(file, { createSize: 8 * MiB });
    const data = pattern(3 * MiB + 512, 3);
    await d.write(MiB - 512, data, false);
    await d.write(7 * MiB, Buffer.alloc(4096, 0x42), true);
    await d.flush();
    expect((await d.read(MiB - 512, data.length)).equals(data)).toBe(true);
    await d.close();
    open.splice(open.indexOf(d), 1);

    const again = await dev(file);
    expect(again.size).toBe(8 * MiB);
    expect((await again.read(MiB - 512, data.length)).equals(data)).toBe(true);
    expect((await again.read(7 * MiB, 4096)).equals(Buffer.alloc(4096, 0x42))).toBe(true);
    expect((await again.read(0, 4096)).equals(Buffer.alloc(4096))).toBe(true);
  });

  it('reopen with a smaller createSize keeps the larger size; a larger one grows the file', async () => {
    const file = 'd.img';
    await (await dev(file, { createSize: 4 * MiB })).close();
    expect((await dev(file, { createSize: MiB })).size).toBe(4 * MiB);
    const grown = await dev(file, { createSize: 16 * MiB });
    expect(grown.size).toBe(16 * MiB);
    expect(fs.statSync(path.join(dir, file)).size).toBe(16 * MiB);
    expect((await grown.read(15 * MiB, 512)).equals(Buffer.alloc(512))).toBe(true);
  });

  it('read-only: the size never grows and writes fail with TANDEM_ERR_BACKSTORE_IO', async () => {
    const file = 'e.img';
    await (await dev(file, { createSize: MiB })).close();
    const ro = await dev(file, { readOnly: true, createSize: 4 * MiB });
    expect(ro.size).toBe(MiB);
    const err = await ro.write(0, Buffer.alloc(512), false).catch((e: unknown) => e);
    expect((err as TandemError).code).toBe('TANDEM_ERR_BACKSTORE_IO');
    expect((err as Error).message).toMatch(/^write /);
  });

  it('discard makes a range read back as zeroes and leaves the rest', async () => {
    const d = await dev('f.img', { createSize: 4 * MiB });
    await d.write(0, Buffer.alloc(4 * MiB, 0xcc), false);
    await d.discard(4096, 3 * MiB);
    const all = await d.read(0, 4 * MiB);
    expect(all.subarray(0, 4096).every((x) => x === 0xcc)).toBe(true);
    expect(all.subarray(4096, 4096 + 3 * MiB).every((x) => x === 0)).toBe(true);
    expect(all.subarray(4096 + 3 * MiB).every((x) => x === 0xcc)).toBe(true);
  });

  it('reading past the end of a file that shrank underneath returns zeroes', async () => {
    const file = path.join(dir, 'g.img');
    const d = await dev('g.img', { createSize: MiB });
    await d.write(0, Buffer.alloc(8192, 0x11), false);
    fs.truncateSync(file, 4096);
    const r = await d.read(0, 8192);
    expect(r.subarray(0, 4096).every((x) => x === 0x11)).toBe(true);
    expect(r.subarray(4096).every((x) => x === 0)).toBe(true);
  });

  it('concurrent writes to different ranges all land', async () => {
    const d = await dev('h.img', { createSize: 4 * MiB });
    const parts = Array.from({ length: 32 }, (_, i) => pattern(64 * 1024, i));
    await Promise.all(parts.map((p, i) => d.write(i * 64 * 1024, p, i % 2 === 0)));
    for (let i = 0; i < parts.length; i++) {
      expect((await d.read(i * 64 * 1024, 64 * 1024)).equals(parts[i]!), `part ${i}`).toBe(true);
    }
  });

  it.each([
    { mode: 'thread pool', inlineWrites: false, used: 'writev', unused: 'writevSync' },
    { mode: 'inline (the default)', inlineWrites: true, used: 'writevSync', unused: 'writev' },
  ] as const)(
    '$mode: adjacent writes of one turn go out as a few pwritev calls, and each lands where it belongs',
    async ({ inlineWrites, used, unused }) => {
      const d = await dev(`m-${used}.img`, { createSize: 4 * MiB, inlineWrites });
      const calls = vi.spyOn(fs, used);
      const none = vi.spyOn(fs, unused);
      try {
        // 300 adjacent 4 KiB writes (more than one run holds), one FUA write in the middle of
        // them, and a write elsewhere, all in one turn.
        const parts = Array.from({ length: 300 }, (_, i) => pattern(4096, i));
        const done = parts.map((p, i) => d.write(i * 4096, p, i === 150));
        done.push(d.write(3 * MiB, pattern(512, 99), false));
        await Promise.all(done);
        expect(calls.mock.calls.length).toBeGreaterThanOrEqual(2);
        expect(calls.mock.calls.length).toBeLessThanOrEqual(4);
        expect(none).not.toHaveBeenCalled();
        const all = await d.read(0, 300 * 4096);
        for (let i = 0; i < parts.length; i++) {
          expect(all.subarray(i * 4096, (i + 1) * 4096).equals(parts[i]!), `part ${i}`).toBe(true);
        }
        expect((await d.read(3 * MiB, 512)).equals(pattern(512, 99))).toBe(true);
      } finally {
        calls.mockRestore();
        none.mockRestore();
      }
    },
  );

  it('thread pool: a short pwritev continues with the rest of the run', async () => {
    const d = await dev('n.img', { createSize: MiB, inlineWrites: false });
    const real = fs.writev;
    const writev = vi
      .spyOn(fs, 'writev')
      .mockImplementationOnce(((
        fd: number,
        buffers: Buffer[],
        position: number,
        cb: (err: NodeJS.ErrnoException | null, n: number) => void,
      ) => real(fd, [buffers[0]!, buffers[1]!.subarray(0, 100)], position, cb)) as typeof fs.writev);
    try {
      const parts = [pattern(4096, 1), pattern(4096, 2), pattern(4096, 3)];
      await Promise.all(parts.map((p, i) => d.write(i * 4096, p, false)));
      expect(writev.mock.calls.length).toBe(2);
      expect((await d.read(0, 3 * 4096)).equals(Buffer.concat(parts))).toBe(true);
    } finally {
      writev.mockRestore();
    }
  });

  it('inline: a short pwritev continues with the rest of the run; one that writes nothing fails the run', async () => {
    const d = await dev('q.img', { createSize: MiB });
    const real = fs.writevSync;
    const sync = vi
      .spyOn(fs, 'writevSync')
      .mockImplementationOnce(((fd: number, buffers: Buffer[], position: number) =>
        real(fd, [buffers[0]!, buffers[1]!.subarray(0, 100)], position)) as typeof fs.writevSync);
    try {
      const parts = [pattern(4096, 1), pattern(4096, 2), pattern(4096, 3)];
      await Promise.all(parts.map((p, i) => d.write(i * 4096, p, false)));
      expect(sync.mock.calls.length).toBe(2);
      expect((await d.read(0, 3 * 4096)).equals(Buffer.concat(parts))).toBe(true);
      sync.mockImplementationOnce((() => 0) as typeof fs.writevSync);
      const err = await Promise.all([
        d.write(0, pattern(4096, 4), false),
        d.write(4096, pattern(4096, 5), false),
      ]).catch((e: unknown) => e);
      expect((err as TandemError).code).toBe('TANDEM_ERR_BACKSTORE_IO');
      expect((err as TandemError).message).toMatch(/no progress/);
    } finally {
      sync.mockRestore();
    }
  });

  it('inline: a failed pwritev rejects the writes of its run as backstore I/O errors, and later writes work', async () => {
    const d = await dev('r.img', { createSize: MiB });
    const sync = vi.spyOn(fs, 'writevSync').mockImplementationOnce((() => {
      throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    }) as typeof fs.writevSync);
    try {
      const results = await Promise.allSettled([
        d.write(0, pattern(4096, 1), false),
        d.write(4096, pattern(4096, 2), false),
      ]);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect(((r as PromiseRejectedResult).reason as TandemError).code).toBe('TANDEM_ERR_BACKSTORE_IO');
      }
      await d.write(0, pattern(4096, 3), false);
      expect((await d.read(0, 4096)).equals(pattern(4096, 3))).toBe(true);
    } finally {
      sync.mockRestore();
    }
  });

  it('inline: a slow write sends the next ones to the thread pool for the backoff, then they go inline again', async () => {
    let clock = 0;
    const warnings: string[] = [];
    const d = await dev('s.img', {
      createSize: MiB,
      warn: (m) => warnings.push(m),
      inlineWrites: { slowMs: 2, backoffMs: 1000, now: () => clock },
    });
    const real = fs.writevSync;
    const sync = vi.spyOn(fs, 'writevSync');
    const pool = vi.spyOn(fs, 'writev');
    try {
      // The first run "takes" 50 ms: the clock moves while the kernel has it.
      sync.mockImplementationOnce(((fd: number, buffers: Buffer[], position: number) => {
        clock += 50;
        return real(fd, buffers, position);
      }) as typeof fs.writevSync);
      await Promise.all([d.write(0, pattern(4096, 1), false), d.write(4096, pattern(4096, 2), false)]);
      expect(sync).toHaveBeenCalledTimes(1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/8192-byte write took 50\.0 ms .*thread pool for 1000 ms/);
      // Within the backoff: the pool.
      clock += 999;
      await Promise.all([d.write(8192, pattern(4096, 3), false), d.write(12288, pattern(4096, 4), false)]);
      expect(pool).toHaveBeenCalledTimes(1);
      expect(sync).toHaveBeenCalledTimes(1);
      // After it: inline again.
      clock += 2;
      await d.write(16384, pattern(4096, 5), false);
      expect(sync).toHaveBeenCalledTimes(2);
      expect(pool).toHaveBeenCalledTimes(1);
      const all = await d.read(0, 5 * 4096);
      expect(all.equals(Buffer.concat([1, 2, 3, 4, 5].map((i) => pattern(4096, i))))).toBe(true);
      // Slow writes within a minute of the warning are counted, not warned of, until the next one.
      const slow = (ms: number) =>
        sync.mockImplementationOnce(((fd: number, buffers: Buffer[], position: number) => {
          clock += ms;
          return real(fd, buffers, position);
        }) as typeof fs.writevSync);
      for (let i = 0; i < 3; i++) {
        slow(10);
        await d.write(0, pattern(4096, 6), false);
        clock += 5000; // past any backoff: the next write goes inline
      }
      expect(warnings).toHaveLength(1);
      clock += 60_000;
      slow(10);
      await d.write(0, pattern(4096, 7), false);
      expect(warnings).toHaveLength(2);
      expect(warnings[1]).toMatch(/took 10\.0 ms .* \(3 more slow writes since the last warning\)$/);
    } finally {
      sync.mockRestore();
      pool.mockRestore();
    }
  });

  it('submitWrites() issues the gathered writes at once, as one pwritev, instead of at the end of the turn', async () => {
    const d = await dev('t.img', { createSize: MiB });
    const sync = vi.spyOn(fs, 'writevSync');
    try {
      const parts = [pattern(4096, 1), pattern(4096, 2), pattern(4096, 3)];
      const done = parts.map((p, i) => d.write(i * 4096, p, false));
      expect(sync).not.toHaveBeenCalled();
      d.submitWrites();
      expect(sync).toHaveBeenCalledTimes(1);
      d.submitWrites(); // nothing left: no call
      await Promise.all(done);
      expect(sync).toHaveBeenCalledTimes(1);
      expect((await d.read(0, 3 * 4096)).equals(Buffer.concat(parts))).toBe(true);
    } finally {
      sync.mockRestore();
    }
  });

  it('writes accepted before close() still reach the file', async () => {
    const file = 'o.img';
    const d = await dev(file, { createSize: MiB });
    const writes = [d.write(0, pattern(4096, 5), false), d.write(4096, pattern(4096, 6), false)];
    await d.close();
    await Promise.all(writes);
    const again = await dev(file);
    expect((await again.read(0, 8192)).equals(Buffer.concat([pattern(4096, 5), pattern(4096, 6)]))).toBe(
      true,
    );
  });

  it('close is idempotent', async () => {
    const d = await dev('i.img', { createSize: MiB });
    await d.close();
    await expect(d.close()).resolves.toBeUndefined();
  });

  it('I/O after close fails as a backstore I/O error, not a crash', async () => {
    const d = await dev('j.img', { createSize: MiB });
    await d.close();
    const err = await d.read(0, 512).catch((e: unknown) => e);
    expect((err as TandemError).code).toBe('TANDEM_ERR_BACKSTORE_IO');
  });

  it('a write after close does not land in another file that reused the descriptor number', async () => {
    const d = await dev('k.img', { createSize: MiB });
    await d.close();
    // The kernel hands out the lowest free descriptor: the next open very likely gets d's.
    const other = await dev('l.img', { createSize: MiB });
    const err = await d.write(0, Buffer.alloc(512, 0x66), false).catch((e: unknown) => e);
    expect((await other.read(0, 512)).equals(Buffer.alloc(512))).toBe(true);
    expect((err as TandemError | undefined)?.code).toBe('TANDEM_ERR_BACKSTORE_IO');
  });
});
