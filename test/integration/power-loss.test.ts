// The power-loss fault the durability tests use (test/helpers/powerloss.ts), shown real: first on
// plain files, then under a node. A write the initiator never flushed is gone after a power cut
// of the node's disk; a write followed by SYNCHRONIZE CACHE (qemu flushes when it closes an
// image in writeback mode) survives it. Both halves matter: without the first, a passing
// durability test would prove nothing.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandem } from '../helpers/daemon.js';
import { mountPowerLoss, type PowerLossMount, powerLossUnavailable } from '../helpers/powerloss.js';
import { explain, requireTools, run } from '../helpers/tools.js';

const unavailable = powerLossUnavailable();

describe('power-loss file system', () => {
  let m: PowerLossMount;
  beforeAll(async () => {
    // Not a skip: CI runs as root with libfuse3-dev installed (.ci/run), where this must hold.
    expect(unavailable, `power-loss tests cannot run: ${unavailable}`).toBeUndefined();
    requireTools('qemu-io');
    m = await mountPowerLoss();
  });
  afterAll(async () => {
    await m?.unmount();
  });

  it('unflushed data is lost at a cut, fsynced data is kept, metadata stays', () => {
    const file = path.join(m.dir, 'a.img');
    const fd = fs.openSync(file, 'w+');
    fs.writeSync(fd, Buffer.alloc(16384, 0x11), 0, 16384, 0);
    fs.fsyncSync(fd);
    fs.writeSync(fd, Buffer.alloc(4096, 0x22), 0, 4096, 4096);
    fs.writeSync(fd, Buffer.alloc(4096, 0x33), 0, 4096, 16384); // extends the file
    expect(fs.readFileSync(file).subarray(4096, 4100)).toEqual(Buffer.alloc(4, 0x22));
    fs.closeSync(fd);
    expect(m.stats().dirtyPages).toBe(2);
    m.cut();
    const after = fs.readFileSync(file);
    expect(after.length).toBe(20480); // the size change was metadata: kept
    expect(after.subarray(0, 16384).equals(Buffer.alloc(16384, 0x11))).toBe(true);
    expect(after.subarray(16384).equals(Buffer.alloc(4096))).toBe(true);
    expect(m.stats()).toMatchObject({ dirtyPages: 0, cuts: 1, droppedPages: 2 });
  });

  it('a random cut loses some unflushed pages and writes the others', () => {
    const file = path.join(m.dir, 'r.img');
    const fd = fs.openSync(file, 'w+');
    fs.writeSync(fd, Buffer.alloc(64 * 4096), 0, 64 * 4096, 0);
    fs.fsyncSync(fd);
    for (let i = 0; i < 64; i++) fs.writeSync(fd, Buffer.alloc(4096, i + 1), 0, 4096, i * 4096);
    fs.closeSync(fd);
    const before = m.stats().droppedPages;
    m.cut({ seed: 7, pct: 50 });
    const data = fs.readFileSync(file);
    let kept = 0;
    for (let i = 0; i < 64; i++) {
      const page = data.subarray(i * 4096, (i + 1) * 4096);
      if (page.equals(Buffer.alloc(4096, i + 1))) kept++;
      else expect(page.equals(Buffer.alloc(4096))).toBe(true);
    }
    const dropped = m.stats().droppedPages - before;
    expect(kept + dropped).toBe(64);
    expect(kept).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
  });

  it('under a node: an unflushed write is lost at a power cut, a flushed one survives', async () => {
    const dataDir = path.join(m.dir, 'node');
    fs.mkdirSync(dataDir);
    let node = await startTandem({ dataDir });
    // cache=unsafe: qemu never sends SYNCHRONIZE CACHE; the default (writeback) flushes at close.
    const flushed = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 0 1M', node.url(0)]);
    expect(flushed.code, explain(flushed)).toBe(0);
    const unflushed = await run('qemu-io', [
      '-f',
      'raw',
      '-t',
      'unsafe',
      '-c',
      'write -P 0xc3 1M 1M',
      node.url(0),
    ]);
    expect(unflushed.code, explain(unflushed)).toBe(0);
    await node.kill();
    m.cut();
    node = await startTandem({ dataDir });
    try {
      const a = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x5a 0 1M', node.url(0)]);
      expect(a.stdout + a.stderr, explain(a)).not.toContain('Pattern verification failed');
      expect(a.code, explain(a)).toBe(0);
      const b = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0 1M 1M', node.url(0)]);
      expect(b.stdout + b.stderr, explain(b)).not.toContain('Pattern verification failed');
      expect(b.code, explain(b)).toBe(0);
    } finally {
      await node.stop();
    }
  });
});
