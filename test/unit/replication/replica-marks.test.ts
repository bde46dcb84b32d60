// The replica's own marks (src/replication/replica-marks.ts): a replica marks the regions of every
// op it applies, durably before applying it, and clears exactly the regions a FLUSH of the
// primary's region cleaner names, after its flush; regions an op reached since the Hello survive
// the resync's IN_SYNC.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  OpKind,
  type OpKindCode,
  type OpMessage,
  type PrimaryMessage,
} from '../../../src/replication/proto.js';
import {
  type Cluster,
  cluster,
  MiB,
  pattern,
  primaryInSync,
  rawStream,
  sleep,
  type TestNode,
  until,
  wireOp,
} from './harness.js';

const SIZE = 64 * MiB;

let c: Cluster | undefined;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0)) f();
  await c?.close();
  c = undefined;
});

/** The regions dirty in a node's bitmap file: what survives a crash of the node now. */
function onDisk(n: TestNode): Set<number> {
  const file = fs.readFileSync(path.join(n.stateDir, 'vol1.bitmap'));
  const out = new Set<number>();
  for (let r = 0; r < (file.length - 32) * 8; r++) if (file[32 + (r >> 3)]! & (1 << (r & 7))) out.add(r);
  return out;
}

const hello: PrimaryMessage = {
  hello: {
    volume: 'vol1',
    epoch: 5,
    primaryNode: 'a',
    datasetId: 'ds1',
    regionSize: MiB,
    size: SIZE,
    era: '',
    committedSize: SIZE,
  },
};

let seq = 0;
function op(kind: OpKindCode, offset: number, more: Partial<OpMessage> = {}): OpMessage {
  const data = kind === OpKind.WRITE || kind === OpKind.RESYNC_DATA ? pattern(4096, offset) : Buffer.alloc(0);
  return wireOp({ seq: ++seq, kind, offset, data, ...more });
}

async function stream(n: TestNode) {
  const s = rawStream(n.address);
  cleanups.push(() => s.close());
  s.send(hello);
  await until('hello answered', () => s.received.length === 1);
  let acked = 0;
  return {
    /** Sends ops in one message and waits for all their acks (each ok). */
    async send(...ops: OpMessage[]) {
      s.send({ ops: { epoch: 5, ops } });
      acked += ops.length;
      await until('acks', () => s.acks().length >= acked);
      expect(s.acks().every((a) => a.ok)).toBe(true);
    },
  };
}

describe('replica marks', () => {
  it('a replica marks the regions of a write durably before applying it; a crash before the clear keeps them', async () => {
    // No clean while this runs: the primary's cleaner waits 60 s.
    c = await cluster({
      names: ['a', 'b'],
      size: SIZE,
      inSync: ['a', 'b'],
      timing: { cleanAfterMs: 60_000 },
    });
    const [a, b] = [c.node('a'), c.node('b')];
    await primaryInSync(c, 'a', 'b');
    expect(onDisk(b).size).toBe(0);
    // What b's bitmap file holds when its device is asked to write region 40.
    let atWrite: Set<number> | undefined;
    const write = b.device.write.bind(b.device);
    b.device.write = (offset, data, fua) => {
      if (offset === 40 * MiB) atWrite = onDisk(b);
      return write(offset, data, fua);
    };
    await a.volume.blockDevice.write(40 * MiB, pattern(4096, 1), false);
    expect(atWrite?.has(40)).toBe(true);
    // A crash now (the bitmap file as it is): the region is still named, and so is the
    // primary's mark-ahead window, which the replica takes the same way (one fdatasync for 32).
    const disk = onDisk(b);
    expect([...disk].sort((x, y) => x - y)).toEqual(Array.from({ length: 24 }, (_, i) => 40 + i));
    await c.reopen('b');
    expect(b.volume.status().dirtyRegions).toBe(24);
  });

  it("the primary's cleaner FLUSH clears the regions it names on every replica, once all flushed", async () => {
    c = await cluster({
      names: ['a', 'b', 'c'],
      size: SIZE,
      inSync: ['a', 'b', 'c'],
      timing: { cleanAfterMs: 200 },
    });
    const a = c.node('a');
    await primaryInSync(c, 'a', 'b', 'c');
    await a.volume.blockDevice.write(5 * MiB, pattern(4096, 2), false);
    expect(onDisk(c.node('b')).has(5)).toBe(true);
    expect(onDisk(c.node('c')).has(5)).toBe(true);
    await until('clean everywhere', () =>
      ['a', 'b', 'c'].every(
        (n) => onDisk(c!.node(n)).size === 0 && c!.node(n).volume.status().dirtyRegions === 0,
      ),
    );
  });

  it('a FLUSH clears only the regions it names, and not one an op reached after it arrived', async () => {
    c = await cluster({ names: ['b'], size: SIZE });
    const b = c.node('b');
    // An in-sync copy (one without valid data is resynced: it marks nothing ahead).
    await b.volume.initDataset('ds1');
    const s = await stream(b);
    await s.send(op(OpKind.WRITE, 2 * MiB), op(OpKind.WRITE, 40 * MiB));
    expect(onDisk(b).has(2) && onDisk(b).has(3) && onDisk(b).has(40)).toBe(true);
    await s.send(op(OpKind.FLUSH, 0, { cleanRegions: [2, 41] }));
    await until('cleared', () => !onDisk(b).has(2));
    const disk = onDisk(b);
    expect(disk.has(41)).toBe(false);
    expect(disk.has(3)).toBe(true); // not named (the mark-ahead of region 2's write)
    expect(disk.has(40)).toBe(true);
    // A write to a named region behind the FLUSH (its flush still running) keeps it dirty.
    b.device.delayMs = 50;
    await s.send(op(OpKind.FLUSH, 0, { cleanRegions: [40, 42] }), op(OpKind.WRITE, 40 * MiB + 8192));
    await until('42 cleared', () => !onDisk(b).has(42));
    await sleep(50);
    expect(onDisk(b).has(40)).toBe(true);
    expect(b.volume.status().dirtyRegions).toBe(onDisk(b).size);
  });

  it("IN_SYNC keeps the regions of this stream's ops and of resync ops the primary keeps dirty", async () => {
    c = await cluster({ names: ['b'], size: SIZE });
    const b = c.node('b');
    const s = await stream(b);
    await s.send(op(OpKind.RESYNC_BEGIN, 0));
    await s.send(
      op(OpKind.WRITE, 5 * MiB),
      op(OpKind.RESYNC_DATA, 7 * MiB),
      op(OpKind.RESYNC_DATA, 8 * MiB, { keepDirty: true }),
      op(OpKind.RESYNC_ZERO, 50 * MiB, { length: MiB }),
    );
    expect(onDisk(b).has(50)).toBe(true);
    await s.send(op(OpKind.IN_SYNC, 0, { datasetId: 'ds1' }));
    await until('cleared', () => !onDisk(b).has(50));
    expect([...onDisk(b)].sort((x, y) => x - y)).toEqual([5, 8]);
  });
});
