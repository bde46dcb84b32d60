// StampedWriters.verify's `floor` (test/helpers/write-log.ts), as the chaos campaign uses it after
// a power cut of both nodes: an older write of the slot from the floor on passes, one below it
// or another slot's block fails, and the strict check still fails on anything but the last ack.
import { expect, it } from 'vitest';
import type { MultipathClient } from '../helpers/multipath.js';
import { Status } from '../helpers/wire.js';
import { decodeStamp, STAMP_BYTES, StampedWriters, stamp } from '../helpers/write-log.js';

/** An in-memory LU behind the two calls StampedWriters makes. */
function fakeLu() {
  const blocks = new Map<number, Buffer>();
  const mp = {
    async execute(cdb: Buffer, opts: { dataOut?: Buffer }) {
      await new Promise((r) => setImmediate(r));
      const lba = Number(cdb.readBigUInt64BE(2));
      if (opts.dataOut) blocks.set(lba, Buffer.from(opts.dataOut));
      const data = opts.dataOut ? Buffer.alloc(0) : (blocks.get(lba) ?? Buffer.alloc(STAMP_BYTES));
      return { result: { status: Status.GOOD, data }, path: 'a', attempts: 1, ms: 0 };
    },
  };
  return { blocks, mp: mp as unknown as MultipathClient };
}

it('verify with a floor accepts older writes of the slot from the floor on, nothing below', async () => {
  const { blocks, mp } = fakeLu();
  const w = new StampedWriters(mp, { writers: 1, slotsPerWriter: 4 });
  w.start();
  while (w.acks.filter((a) => a.slot === 1).length < 4) await new Promise((r) => setTimeout(r, 1));
  await w.stop();
  const slot1 = w.acks.filter((a) => a.slot === 1).map((a) => a.seq);
  const [s0, s1, s2] = slot1 as [number, number, number];
  const lba = w.lbaOf(1);
  expect((await w.verify()).problems).toEqual([]);

  // A power cut took the last two writes of slot 1: the block holds its second write again.
  blocks.set(lba, stamp(lba, 0, s1));
  expect(decodeStamp(blocks.get(lba)!)?.seq).toBe(s1);
  expect((await w.verify()).problems).toHaveLength(1);
  expect((await w.verify({ floor: (s) => (s === 1 ? s1 : 0) })).problems).toEqual([]);
  expect((await w.verify({ floor: (s) => (s === 1 ? s2 : 0) })).problems).toHaveLength(1);
  // All of them gone: passes only with floor 0; another slot's sequence never passes.
  blocks.delete(lba);
  expect((await w.verify({ floor: () => 0 })).problems).toEqual([]);
  expect((await w.verify({ floor: (s) => (s === 1 ? s0 : 0) })).problems).toHaveLength(1);
  blocks.set(lba, stamp(lba, 0, s1 + 1));
  expect((await w.verify({ floor: () => 0 })).problems).toHaveLength(1);
});
