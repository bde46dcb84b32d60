// The owned Data-Out object (issue #11, src/iscsi/data-out.ts): a write's data-out kept as
// received; a single piece covering the transfer is handed over without a copy, several are
// gathered once; pool buffers the reader lent (a PDU that spanned socket reads) go back to the
// pool exactly once, through take() or release().
import { describe, expect, it } from 'vitest';
import { DataOut, dataOutStats } from '../../../src/iscsi/data-out.js';
import { RESERVED_TAG } from '../../../src/iscsi/pdu/bhs.js';
import { IscsiTask, type IscsiTaskInit, type R2tSender } from '../../../src/iscsi/task.js';
import type { ItNexus } from '../../../src/scsi/command.js';
import { ioBuffers } from '../../../src/util/buffer-pool.js';

function sameMemory(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset;
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}

describe('DataOut', () => {
  it('one piece covering the transfer is handed over as it is: no copy', () => {
    const d = new DataOut();
    const piece = pattern(8192, 1);
    d.add(0, piece, false);
    const before = dataOutStats.assemblies;
    const out = d.take(8192);
    expect(sameMemory(out, piece)).toBe(true);
    expect(dataOutStats.assemblies).toBe(before);
  });

  it('several pieces are gathered once, in place by offset; pooled ones go back to the pool', () => {
    const size = 16384;
    const lent = ioBuffers.take(size);
    pattern(size, 2).copy(lent);
    const d = new DataOut();
    const tail = pattern(size, 3);
    d.add(size, tail, false); // out of arrival order: placed by offset
    d.add(0, lent, true);
    const out = d.take(2 * size);
    expect(out.subarray(0, size).equals(pattern(size, 2))).toBe(true);
    expect(out.subarray(size).equals(tail)).toBe(true);
    // The lent buffer is free again: the next take of its size gets it back.
    expect(ioBuffers.take(size)).toBe(lent);
  });

  it('release() gives back what was not taken, once; data arriving after it goes straight back', () => {
    const size = 32768;
    const a = ioBuffers.take(size);
    const d = new DataOut();
    d.add(0, a, true);
    d.release();
    d.release();
    const late = ioBuffers.take(size);
    expect(late).toBe(a);
    d.add(0, late, true);
    expect(d.bytes).toBe(0);
    expect(ioBuffers.take(size)).toBe(late);
  });
});

describe('DataOut: the buffer lent to the engine stays with the transport', () => {
  it('a pooled piece handed over goes back at release(), not at take()', () => {
    const size = 65536;
    const piece = ioBuffers.take(size);
    const d = new DataOut();
    d.add(0, piece, true);
    const lent = d.take(size);
    expect(sameMemory(lent, piece)).toBe(true);
    // Still the engine's to write from: the pool does not have it.
    expect(ioBuffers.take(size)).not.toBe(piece);
    d.release();
    expect(ioBuffers.take(size)).toBe(piece);
  });

  it('an assembled pool buffer goes back at release(), once, even after discard()', () => {
    const size = 8192;
    const d = new DataOut();
    d.add(0, pattern(size, 7), false);
    d.add(size, pattern(size, 8), false);
    const assembled = d.take(2 * size);
    d.discard(); // an abort while the device writes: the lent buffer is not given back yet
    expect(ioBuffers.take(2 * size)).not.toBe(assembled);
    d.release();
    d.release();
    expect(ioBuffers.take(2 * size)).toBe(assembled);
    expect(ioBuffers.take(2 * size)).not.toBe(assembled);
  });

  it('a piece that was not pooled never goes to the pool', () => {
    const size = 4096;
    const piece = Buffer.allocUnsafeSlow(size);
    const d = new DataOut();
    d.add(0, piece, false);
    d.take(size);
    d.release();
    expect(ioBuffers.take(size)).not.toBe(piece);
  });
});

describe('IscsiTask data-out through DataOut', () => {
  const sender: R2tSender & { r2ts: number[] } = {
    r2ts: [],
    allocateTtt() {
      return 7;
    },
    sendR2t(_t, ttt) {
      this.r2ts.push(ttt);
    },
  };
  const init = (over: Partial<IscsiTaskInit>): IscsiTaskInit => ({
    itt: 1,
    cmdSN: 1,
    lun: 0,
    lunBytes: Buffer.alloc(8),
    cdb: Buffer.alloc(16),
    attribute: 0 as IscsiTaskInit['attribute'],
    expectedLength: 4096,
    read: false,
    write: true,
    nexus: { id: 'n' } as ItNexus,
    immediateData: Buffer.alloc(0),
    unsolicitedLimit: 0,
    maxBurstLength: 1 << 20,
    maxOutstandingR2T: 1,
    ...over,
  });

  it('a single solicited Data-Out PDU is the buffer the device writes from (no copy)', async () => {
    const t = new IscsiTask(init({}), sender);
    const p = t.receiveDataOut(4096);
    const data = pattern(4096, 4);
    t.onDataOut(7, 0, 0, data);
    expect(sameMemory(await p, data)).toBe(true);
  });

  it('immediate data plus unsolicited Data-Out: gathered once, bytes in place', async () => {
    const t = new IscsiTask(
      init({ expectedLength: 8192, immediateData: pattern(4096, 5), unsolicitedLimit: 8192 }),
      sender,
    );
    t.onDataOut(RESERVED_TAG, 0, 4096, pattern(4096, 6));
    const out = await t.receiveDataOut(8192);
    expect(out.equals(Buffer.concat([pattern(4096, 5), pattern(4096, 6)]))).toBe(true);
  });
});
