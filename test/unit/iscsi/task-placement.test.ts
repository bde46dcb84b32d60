// Issue #11, src/iscsi/task.ts with src/iscsi/pdu-reader.ts: a write's data-out received
// straight into the buffer the device writes from (dataOutPlacer), each byte copied once,
// with every RFC 7143 11.7 check and the data digest deciding before the bytes count.
import { describe, expect, it, vi } from 'vitest';
import { dataOutStats } from '../../../src/iscsi/data-out.js';
import { BHS_LENGTH, RESERVED_TAG } from '../../../src/iscsi/pdu/bhs.js';
import { PduReader, releasePduData } from '../../../src/iscsi/pdu-reader.js';
import { DataSequenceError, dataOutPlacer, type IscsiTask } from '../../../src/iscsi/task.js';
import { ioBuffers } from '../../../src/util/buffer-pool.js';
import { crc32c } from '../../../src/util/crc32c.js';

import { type FakeSender, pattern, task } from './task-fixture.js';

// Issue #11: the reader gathers a Data-Out segment that spans socket reads straight into its
// task's destination at the PDU's Buffer Offset (dataOutPlacer), so each written byte is copied
// once; only the PDU the data sequence expects next is placed there.
describe('IscsiTask data-out placed by the reader', () => {
  interface Out {
    ttt: number;
    dataSN: number;
    offset: number;
    data: Buffer;
  }

  function wire(p: Out, dd: boolean): Buffer {
    const bhs = Buffer.alloc(BHS_LENGTH);
    bhs[0] = 0x05;
    bhs[1] = 0x80;
    bhs.writeUIntBE(p.data.length, 5, 3);
    bhs.writeUInt32BE(1, 16); // ITT
    bhs.writeUInt32BE(p.ttt, 20);
    bhs.writeUInt32BE(p.dataSN, 36);
    bhs.writeUInt32BE(p.offset, 40);
    const pad = Buffer.alloc((4 - (p.data.length & 3)) & 3);
    const parts = [bhs, p.data, pad];
    if (dd) {
      const d = Buffer.alloc(4);
      d.writeUInt32LE(crc32c(p.data, pad), 0);
      parts.push(d);
    }
    return Buffer.concat(parts);
  }

  /** A reader placing into `t` (ITT 1); `placed` records each placement given. */
  function readerFor(t: IscsiTask, dd: boolean, placed: Buffer[] = []): PduReader {
    const place = dataOutPlacer((itt) => (itt === 1 ? t : undefined));
    const r = new PduReader(undefined, (bhs, n) => {
      const b = place(bhs, n);
      if (b) placed.push(b.into);
      return b;
    });
    r.configure({ headerDigest: false, dataDigest: dd, maxDataSegment: 65536 });
    return r;
  }

  /** Feeds `bytes` in the given cuts; each PDU goes to the task as the connection does it. */
  function feed(r: PduReader, t: IscsiTask, bytes: Buffer, cuts: number[]): string[] {
    const kinds: string[] = [];
    let from = 0;
    for (const to of [...cuts, bytes.length]) {
      r.push(bytes.subarray(from, to));
      from = to;
      for (let ev = r.next(); ev; ev = r.next()) {
        kinds.push(ev.kind);
        if (ev.kind !== 'pdu') continue;
        const b = ev.pdu.bhs;
        try {
          t.onDataOut(b.readUInt32BE(20), b.readUInt32BE(36), b.readUInt32BE(40), ev.pdu.data, ev.pdu.pooled);
        } catch (err) {
          if (!(err instanceof DataSequenceError)) throw err;
          kinds.push('sequence-error');
        }
      }
    }
    return kinds;
  }

  const SIZE = 8192;
  const data = pattern(SIZE);
  const pieces = (ttt: number): Out[] => [
    { ttt, dataSN: 0, offset: 0, data: data.subarray(0, 3001) },
    { ttt, dataSN: 1, offset: 3001, data: data.subarray(3001) },
  ];

  for (const dd of [false, true]) {
    it(`two Data-Out PDUs split at every offset (DataDigest ${dd}): every byte copied exactly once`, async () => {
      const wires = pieces(100).map((p) => wire(p, dd));
      const bytes = Buffer.concat(wires);
      // Where each data segment lies in the stream.
      const segments = [
        { start: BHS_LENGTH, length: 3001 },
        { start: wires[0]!.length + BHS_LENGTH, length: SIZE - 3001 },
      ];
      for (let cut = 0; cut <= bytes.length; cut++) {
        const { t, sender } = task({ expectedLength: SIZE });
        const p = t.receiveDataOut(SIZE);
        expect(sender.r2ts).toEqual([{ ttt: 100, r2tSN: 0, offset: 0, length: SIZE }]);
        const placed0 = dataOutStats.placedBytes;
        const assembled0 = dataOutStats.assembledBytes;
        const placed: Buffer[] = [];
        expect(feed(readerFor(t, dd, placed), t, bytes, [cut])).toEqual(['pdu', 'pdu']);
        const got = await p;
        expect(got.equals(data)).toBe(true);
        // Gathered by the reader into the destination, or copied there from one read: once.
        const spanned = segments.find((g) => cut > g.start && cut < g.start + g.length)?.length ?? 0;
        expect(dataOutStats.placedBytes - placed0).toBe(spanned);
        expect(dataOutStats.assembledBytes - assembled0).toBe(SIZE - spanned);
        for (const b of placed) expect(b.buffer).toBe(got.buffer);
        t.release();
      }
    });
  }

  it('a placed segment whose data digest fails is not received: the task still waits for it', async () => {
    const [first, second] = pieces(100);
    const bad = wire(first!, true);
    bad[BHS_LENGTH + 10] = bad[BHS_LENGTH + 10]! ^ 0x01;
    const { t } = task({ expectedLength: SIZE });
    const p = t.receiveDataOut(SIZE);
    const placed: Buffer[] = [];
    const r = readerFor(t, true, placed);
    expect(feed(r, t, bad, [BHS_LENGTH + 100])).toEqual(['data-digest-error']);
    expect(placed).toHaveLength(1); // the corrupt bytes went to the destination ...
    expect(feed(r, t, wire(second!, true), [BHS_LENGTH + 100])).toEqual(['pdu', 'sequence-error']);
    // ... but never counted: DataSN 1 at 3001 is out of sequence, DataSN 0 was never received.
    await expect(p).rejects.toBeInstanceOf(DataSequenceError);
    t.release();
  });

  it('the data digest decides before the bytes count: resent intact, the write holds the sent bytes', async () => {
    const [first, second] = pieces(100);
    const bad = wire(first!, true);
    bad[BHS_LENGTH + 10] = bad[BHS_LENGTH + 10]! ^ 0x01;
    const { t } = task({ expectedLength: SIZE });
    const p = t.receiveDataOut(SIZE);
    const r = readerFor(t, true);
    expect(feed(r, t, bad, [BHS_LENGTH + 100])).toEqual(['data-digest-error']);
    expect(t.awaitingDataOut).toBe(true);
    const again = Buffer.concat([wire(first!, true), wire(second!, true)]);
    expect(feed(r, t, again, [BHS_LENGTH + 100, again.length - 100])).toEqual(['pdu', 'pdu']);
    expect((await p).equals(data)).toBe(true);
    t.release();
  });

  const broken: [string, (ttt: number) => Out][] = [
    ['beyond the R2T', (ttt) => ({ ttt, dataSN: 1, offset: 3001, data: pattern(SIZE) })],
    ['a wrong DataSN', (ttt) => ({ ttt, dataSN: 2, offset: 3001, data: data.subarray(3001) })],
    ['a wrong offset', (ttt) => ({ ttt, dataSN: 1, offset: 3000, data: data.subarray(3000) })],
    ['an unknown TTT', (ttt) => ({ ttt: ttt + 1, dataSN: 1, offset: 3001, data: data.subarray(3001) })],
    [
      'a duplicate of received data',
      (ttt) => ({ ttt, dataSN: 0, offset: 0, data: pattern(3001).fill(0x55) }),
    ],
    ['unsolicited data', () => ({ ttt: RESERVED_TAG, dataSN: 0, offset: 3001, data: data.subarray(3001) })],
  ];
  for (const [what, make] of broken) {
    it(`Data-Out with ${what} is never placed: rejected, received bytes unchanged`, async () => {
      const { t } = task({ expectedLength: SIZE });
      const p = t.receiveDataOut(SIZE);
      const placed: Buffer[] = [];
      const r = readerFor(t, true, placed);
      const ok = wire(pieces(100)[0]!, true);
      expect(feed(r, t, ok, [BHS_LENGTH + 1000])).toEqual(['pdu']);
      expect(placed).toHaveLength(1);
      const received = placed[0]!;
      const bad = wire(make(100), true);
      expect(feed(r, t, bad, [BHS_LENGTH + 1000])).toEqual(['pdu', 'sequence-error']);
      expect(placed).toHaveLength(1);
      expect(received.equals(data.subarray(0, 3001))).toBe(true);
      await expect(p).rejects.toBeInstanceOf(DataSequenceError);
      t.release();
    });
  }

  it('unsolicited Data-Out within FirstBurstLength is placed; beyond it, not', async () => {
    const { t } = task({ expectedLength: SIZE, unsolicitedLimit: 4096, maxBurstLength: SIZE });
    const placed: Buffer[] = [];
    const r = readerFor(t, false, placed);
    const u = { ttt: RESERVED_TAG, dataSN: 0, offset: 0, data: data.subarray(0, 4096) };
    expect(feed(r, t, wire(u, false), [BHS_LENGTH + 10])).toEqual(['pdu']);
    expect(placed).toHaveLength(1);
    const p = t.receiveDataOut(SIZE);
    const beyond = { ttt: RESERVED_TAG, dataSN: 1, offset: 4096, data: data.subarray(4096) };
    expect(feed(r, t, wire(beyond, false), [BHS_LENGTH + 10])).toEqual(['pdu', 'sequence-error']);
    expect(placed).toHaveLength(1);
    await expect(p).rejects.toBeInstanceOf(DataSequenceError);
    t.release();
  });
});

// Issue #11: a WRITE's immediate data that spans socket reads, when Data-Out PDUs follow, is
// gathered into a pool buffer for the whole transfer (EDTL), which its task's Data-Out then
// fills in place: the transfer is never assembled a second time.
describe('IscsiTask: immediate data gathered into a buffer for the whole transfer', () => {
  function command(edtl: number, data: Buffer, write = true): Buffer {
    const bhs = Buffer.alloc(BHS_LENGTH);
    bhs[0] = 0x01;
    bhs[1] = 0x80 | (write ? 0x20 : 0x40);
    bhs.writeUIntBE(data.length, 5, 3);
    bhs.writeUInt32BE(1, 16); // ITT
    bhs.writeUInt32BE(edtl, 20);
    return Buffer.concat([bhs, data, Buffer.alloc((4 - (data.length & 3)) & 3)]);
  }

  function dataOutPdu(ttt: number, offset: number, data: Buffer): Buffer {
    const bhs = Buffer.alloc(BHS_LENGTH);
    bhs[0] = 0x05;
    bhs[1] = 0x80;
    bhs.writeUIntBE(data.length, 5, 3);
    bhs.writeUInt32BE(1, 16);
    bhs.writeUInt32BE(ttt, 20);
    bhs.writeUInt32BE(offset, 40);
    return Buffer.concat([bhs, data, Buffer.alloc((4 - (data.length & 3)) & 3)]);
  }

  const SIZE = 16384;
  const IMM = 6000;
  const data = pattern(SIZE);

  it('immediate + R2T Data-Out split at every offset: every byte copied exactly once, one pool buffer', async () => {
    const cmd = command(SIZE, data.subarray(0, IMM));
    const out = dataOutPdu(100, IMM, data.subarray(IMM));
    const bytes = Buffer.concat([cmd, out]);
    const segments = [
      { start: BHS_LENGTH, length: IMM },
      { start: cmd.length + BHS_LENGTH, length: SIZE - IMM },
    ];
    for (let cut = 0; cut <= bytes.length; cut++) {
      let t: IscsiTask | undefined;
      let sender: FakeSender | undefined;
      let p: Promise<Buffer> | undefined;
      const r = new PduReader(
        undefined,
        dataOutPlacer((itt) => (itt === 1 ? t : undefined)),
      );
      r.configure({ headerDigest: false, dataDigest: false, maxDataSegment: 65536 });
      const placed0 = dataOutStats.placedBytes;
      const assembled0 = dataOutStats.assembledBytes;
      let from = 0;
      for (const to of [cut, bytes.length]) {
        r.push(bytes.subarray(from, to));
        from = to;
        for (let ev = r.next(); ev; ev = r.next()) {
          if (ev.kind !== 'pdu') throw new Error('unexpected digest error');
          const b = ev.pdu.bhs;
          if (b[0] === 0x01) {
            ({ t, sender } = task({
              expectedLength: SIZE,
              immediateData: ev.pdu.data,
              immediatePooled: ev.pdu.pooled ?? false,
              unsolicitedLimit: IMM,
            }));
            p = t.receiveDataOut(SIZE);
            expect(sender.r2ts).toEqual([{ ttt: 100, r2tSN: 0, offset: IMM, length: SIZE - IMM }]);
          } else {
            t!.onDataOut(
              b.readUInt32BE(20),
              b.readUInt32BE(36),
              b.readUInt32BE(40),
              ev.pdu.data,
              ev.pdu.pooled,
            );
          }
        }
      }
      const got = await p!;
      expect(got.equals(data)).toBe(true);
      const spanned = segments.find((g) => cut > g.start && cut < g.start + g.length)?.length ?? 0;
      expect(dataOutStats.placedBytes - placed0).toBe(spanned);
      expect(dataOutStats.assembledBytes - assembled0).toBe(SIZE - spanned);
      t!.release();
      // The buffer the device wrote from is back in the pool once the task ended.
      const again = ioBuffers.take(SIZE);
      expect(again.buffer).toBe(got.buffer);
      ioBuffers.give(again);
    }
  });

  function roomOf(edtl: number, length: number, write = true) {
    const r = new PduReader(
      undefined,
      dataOutPlacer(() => undefined),
    );
    r.configure({ headerDigest: false, dataDigest: false, maxDataSegment: 65536 });
    const bytes = command(edtl, pattern(length), write);
    r.push(bytes.subarray(0, BHS_LENGTH + 10));
    r.push(bytes.subarray(BHS_LENGTH + 10));
    const ev = r.next();
    if (ev?.kind !== 'pdu') throw new Error('no PDU');
    return ev.pdu;
  }

  it('a data digest error on immediate data gathered there: no PDU, the whole buffer back in the pool', () => {
    const r = new PduReader(
      undefined,
      dataOutPlacer(() => undefined),
    );
    r.configure({ headerDigest: false, dataDigest: true, maxDataSegment: 65536 });
    const imm = pattern(4096);
    const bytes = Buffer.concat([command(8192, imm), Buffer.alloc(4)]);
    bytes.writeUInt32LE((crc32c(imm) ^ 1) >>> 0, bytes.length - 4);
    let room: Buffer | undefined;
    const take = ioBuffers.take.bind(ioBuffers);
    const spy = vi.spyOn(ioBuffers, 'take').mockImplementation((n) => (room = take(n)));
    r.push(bytes.subarray(0, BHS_LENGTH + 100));
    r.push(bytes.subarray(BHS_LENGTH + 100));
    expect(r.next()?.kind).toBe('data-digest-error');
    spy.mockRestore();
    expect(room?.length).toBe(8192);
    expect(ioBuffers.take(8192).buffer).toBe(room?.buffer);
  });

  it('only for a WRITE whose transfer continues, at most ROOM_FACTOR (4) times the immediate data', () => {
    const room = roomOf(4 * 4096, 4096);
    expect(room.pooled).toBe(true);
    expect(room.data.equals(pattern(4096))).toBe(true);
    expect(room.data.buffer.byteLength).toBe(4 * 4096);
    releasePduData(room); // a command that never runs: the whole buffer goes back
    expect(ioBuffers.take(4 * 4096).buffer).toBe(room.data.buffer);
    for (const [edtl, length, write] of [
      [4 * 4096 + 4, 4096, true], // beyond the factor
      [4096, 4096, true], // the immediate data is the whole transfer
      [16384, 4096, false], // not a WRITE
    ] as const) {
      const pdu = roomOf(edtl, length, write);
      expect(pdu.data.buffer.byteLength).toBe(length);
      releasePduData(pdu);
    }
  });
});
