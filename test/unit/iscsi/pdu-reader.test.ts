// The target's receive state machine (src/iscsi/pdu-reader.ts) on byte streams alone: PDUs
// split at every offset, header and data digests (RFC 7143 13.1), AHS, padding (11.2.4).
import { describe, expect, it } from 'vitest';
import { BHS_LENGTH } from '../../../src/iscsi/pdu/bhs.js';
import { PduReader, type ReaderEvent } from '../../../src/iscsi/pdu-reader.js';
import { crc32c } from '../../../src/util/crc32c.js';
import { ProtocolError } from '../../../src/util/errors.js';

interface Raw {
  opcode: number;
  itt: number;
  ahs?: Buffer;
  data?: Buffer;
}

function digest(...parts: Buffer[]): Buffer {
  const d = Buffer.alloc(4);
  d.writeUInt32LE(crc32c(...parts), 0);
  return d;
}

/** Wire bytes of one PDU, built by hand (not with the code under test). */
function encode(p: Raw, hd: boolean, dd: boolean): Buffer {
  const ahs = p.ahs ?? Buffer.alloc(0);
  const data = p.data ?? Buffer.alloc(0);
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = p.opcode;
  bhs[4] = ahs.length / 4;
  bhs.writeUIntBE(data.length, 5, 3);
  bhs.writeUInt32BE(p.itt, 16);
  const parts = [bhs, ahs];
  if (hd) parts.push(digest(bhs, ahs));
  if (data.length > 0) {
    const pad = Buffer.alloc((4 - (data.length & 3)) & 3);
    parts.push(data, pad);
    if (dd) parts.push(digest(data, pad));
  }
  return Buffer.concat(parts);
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

// An extended CDB AHS (type 1, length 17: 16 CDB bytes + reserved) padded to 20 bytes.
const AHS = Buffer.concat([Buffer.from([0x00, 0x11, 0x01, 0x00]), pattern(16, 7)]);

const STREAM: Raw[] = [
  { opcode: 0x01, itt: 1 },
  { opcode: 0x01, itt: 2, data: pattern(5, 1) }, // 3 bytes of padding
  { opcode: 0x01, itt: 3, ahs: AHS, data: pattern(8, 2) }, // AHS, no padding
  { opcode: 0x05, itt: 4, data: pattern(1029, 3) }, // gathered from many chunks
  { opcode: 0x00, itt: 5, ahs: AHS },
];

function reader(hd: boolean, dd: boolean): PduReader {
  const r = new PduReader();
  r.configure({ headerDigest: hd, dataDigest: dd, maxDataSegment: 8192 });
  return r;
}

function drain(r: PduReader, out: ReaderEvent[]): void {
  for (let ev = r.next(); ev; ev = r.next()) out.push(ev);
}

function expectStream(events: ReaderEvent[]): void {
  expect(events.map((e) => e.kind)).toEqual(STREAM.map(() => 'pdu'));
  events.forEach((ev, i) => {
    if (ev.kind !== 'pdu') return;
    const want = STREAM[i]!;
    expect(ev.pdu.bhs.length).toBe(BHS_LENGTH);
    expect(ev.pdu.bhs[0]).toBe(want.opcode);
    expect(ev.pdu.bhs.readUInt32BE(16)).toBe(want.itt);
    expect(ev.pdu.ahs.equals(want.ahs ?? Buffer.alloc(0))).toBe(true);
    expect(ev.pdu.data.equals(want.data ?? Buffer.alloc(0))).toBe(true);
  });
}

describe('PduReader', () => {
  for (const [hd, dd] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    const bytes = Buffer.concat(STREAM.map((p) => encode(p, hd, dd)));

    it(`a stream of ${STREAM.length} PDUs split at every offset (HeaderDigest ${hd}, DataDigest ${dd})`, () => {
      for (let cut = 0; cut <= bytes.length; cut++) {
        const r = reader(hd, dd);
        const events: ReaderEvent[] = [];
        r.push(bytes.subarray(0, cut));
        drain(r, events);
        r.push(bytes.subarray(cut));
        drain(r, events);
        expectStream(events);
        expect(r.buffered).toBe(0);
        expect(r.state).toBe('await-bhs');
      }
    });

    it(`one byte at a time and all at once (HeaderDigest ${hd}, DataDigest ${dd})`, () => {
      const r = reader(hd, dd);
      const events: ReaderEvent[] = [];
      for (let i = 0; i < bytes.length; i++) {
        r.push(bytes.subarray(i, i + 1));
        drain(r, events);
      }
      expectStream(events);
      const whole = reader(hd, dd);
      const all: ReaderEvent[] = [];
      whole.push(bytes);
      drain(whole, all);
      expectStream(all);
    });
  }

  it('waits in each receive state until its bytes are there', () => {
    const bytes = encode({ opcode: 0x01, itt: 9, ahs: AHS, data: pattern(6, 4) }, true, true);
    const r = reader(true, true);
    const states: string[] = [];
    for (let i = 0; i < bytes.length - 1; i++) {
      r.push(bytes.subarray(i, i + 1));
      expect(r.next()).toBeUndefined();
      if (states.at(-1) !== r.state) states.push(r.state);
    }
    expect(states).toEqual([
      'await-bhs',
      'await-ahs',
      'await-header-digest',
      'await-data',
      'await-data-digest',
    ]);
    r.push(bytes.subarray(bytes.length - 1));
    expect(r.next()?.kind).toBe('pdu');
  });

  it('a bad header digest is a ProtocolError before anything is dispatched', () => {
    const bytes = encode({ opcode: 0x01, itt: 1, data: pattern(12, 5) }, true, false);
    bytes[BHS_LENGTH] = bytes[BHS_LENGTH]! ^ 0x01; // first digest byte
    const r = reader(true, false);
    r.push(bytes);
    let err: unknown;
    try {
      r.next();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('TANDEM_ERR_ISCSI_DIGEST');
  });

  it('a bad data digest yields data-digest-error with the header, never the PDU; the next PDU follows', () => {
    const bad = encode({ opcode: 0x05, itt: 1, data: pattern(10, 6) }, false, true);
    bad[BHS_LENGTH + 2] = bad[BHS_LENGTH + 2]! ^ 0x80; // a data byte
    const good = encode({ opcode: 0x00, itt: 2 }, false, true);
    const r = reader(false, true);
    r.push(Buffer.concat([bad, good]));
    const first = r.next();
    expect(first?.kind).toBe('data-digest-error');
    if (first?.kind === 'data-digest-error') expect(first.bhs.readUInt32BE(16)).toBe(1);
    const second = r.next();
    expect(second?.kind).toBe('pdu');
    if (second?.kind === 'pdu') expect(second.pdu.bhs.readUInt32BE(16)).toBe(2);
    expect(r.next()).toBeUndefined();
  });

  it('a corrupted pad byte fails the data digest too (padding is covered, RFC 7143 13.1)', () => {
    const bytes = encode({ opcode: 0x05, itt: 1, data: pattern(5, 6) }, false, true);
    bytes[BHS_LENGTH + 6] = 0xff; // second pad byte
    const r = reader(false, true);
    r.push(bytes);
    expect(r.next()?.kind).toBe('data-digest-error');
  });

  it('a data segment above the limit is a ProtocolError (the login limit until configured)', () => {
    const r = new PduReader();
    r.push(encode({ opcode: 0x03, itt: 1, data: pattern(8193, 1) }, false, false));
    expect(() => r.next()).toThrow(/exceeds MaxRecvDataSegmentLength 8192/);
    const ok = new PduReader();
    ok.push(encode({ opcode: 0x03, itt: 1, data: pattern(8192, 1) }, false, false));
    expect(ok.next()?.kind).toBe('pdu');
  });

  it('digests configured after a PDU apply from the next one', () => {
    const r = new PduReader();
    r.push(encode({ opcode: 0x03, itt: 1 }, false, false));
    r.push(encode({ opcode: 0x01, itt: 2, data: pattern(3, 1) }, true, true));
    expect(r.next()?.kind).toBe('pdu');
    r.configure({ headerDigest: true, dataDigest: true, maxDataSegment: 8192 });
    const ev = r.next();
    expect(ev?.kind).toBe('pdu');
    if (ev?.kind === 'pdu') expect(ev.pdu.data.equals(pattern(3, 1))).toBe(true);
  });

  it('calls onHeader once per PDU, when its header is verified', () => {
    let headers = 0;
    const r = new PduReader(() => headers++);
    const bytes = encode({ opcode: 0x01, itt: 1, data: pattern(100, 1) }, false, false);
    r.push(bytes.subarray(0, BHS_LENGTH));
    expect(r.next()).toBeUndefined();
    expect(headers).toBe(1);
    r.push(bytes.subarray(BHS_LENGTH));
    expect(r.next()?.kind).toBe('pdu');
    expect(headers).toBe(1);
  });
});

// Issue #11: a data segment that spans socket reads is gathered straight into the buffer its
// owner (a task's data-out) set aside for it, at its buffer offset, so the written bytes are
// copied once. The RFC 7143 checks hold: the data digest over the received bytes decides
// whether the PDU counts at all; out-of-sequence or out-of-range Data-Out is never placed.
describe('PduReader: data segments placed where their owner wants them', () => {
  interface DataOutRaw {
    itt: number;
    ttt: number;
    dataSN: number;
    offset: number;
    data: Buffer;
  }

  /** Wire bytes of a SCSI Data-Out PDU (RFC 7143 11.7), built by hand. */
  function dataOut(p: DataOutRaw, dd: boolean): Buffer {
    const bytes = encode({ opcode: 0x05, itt: p.itt, data: p.data }, false, dd);
    bytes[1] = 0x80;
    bytes.writeUInt32BE(p.ttt, 20);
    bytes.writeUInt32BE(p.dataSN, 36);
    // The header changes after encode(): the data digest covers only data and padding.
    bytes.writeUInt32BE(p.offset, 40);
    return bytes;
  }

  const OFFSET = 100;
  const SEG = pattern(1029, 9); // 3 bytes of padding

  function placingReader(dd: boolean, dest: Buffer, asked: number[]): PduReader {
    const r = new PduReader(undefined, (bhs, length) => {
      asked.push(bhs.readUInt32BE(40));
      const off = bhs.readUInt32BE(40);
      return { into: dest.subarray(off, off + length), pooled: false };
    });
    r.configure({ headerDigest: false, dataDigest: dd, maxDataSegment: 8192 });
    return r;
  }

  for (const dd of [false, true]) {
    it(`split at every offset, DataDigest ${dd}: gathered into the placement when it spans reads, else a view`, () => {
      const bytes = dataOut({ itt: 1, ttt: 5, dataSN: 0, offset: OFFSET, data: SEG }, dd);
      const dataStart = BHS_LENGTH;
      for (let cut = 0; cut <= bytes.length; cut++) {
        const dest = Buffer.alloc(OFFSET + SEG.length + 50, 0xee);
        const asked: number[] = [];
        const r = placingReader(dd, dest, asked);
        const events: ReaderEvent[] = [];
        const head = bytes.subarray(0, cut);
        const tail = bytes.subarray(cut);
        r.push(head);
        drain(r, events);
        r.push(tail);
        drain(r, events);
        expect(events.map((e) => e.kind)).toEqual(['pdu']);
        const pdu = (events[0] as Extract<ReaderEvent, { kind: 'pdu' }>).pdu;
        expect(pdu.data.equals(SEG)).toBe(true);
        expect(pdu.pooled ?? false).toBe(false);
        const spans = cut > dataStart && cut < dataStart + SEG.length;
        if (spans) {
          // The one copy went to the destination at the PDU's buffer offset, nowhere else.
          expect(asked).toEqual([OFFSET]);
          expect(pdu.data.buffer).toBe(dest.buffer);
          expect(pdu.data.byteOffset).toBe(dest.byteOffset + OFFSET);
          expect(dest.subarray(OFFSET, OFFSET + SEG.length).equals(SEG)).toBe(true);
        } else {
          // In one read: a view of that read, nothing copied, the destination untouched.
          expect(asked).toEqual([]);
          expect(pdu.data.buffer === head.buffer || pdu.data.buffer === tail.buffer).toBe(true);
        }
        expect(dest.subarray(0, OFFSET).every((b) => b === 0xee)).toBe(true);
        expect(dest.subarray(OFFSET + SEG.length).every((b) => b === 0xee)).toBe(true);
        expect(r.buffered).toBe(0);
        expect(r.state).toBe('await-bhs');
      }
    });
  }

  it('a data digest error, split at every offset: never a PDU; the next PDU follows intact', () => {
    const bad = dataOut({ itt: 1, ttt: 5, dataSN: 0, offset: OFFSET, data: SEG }, true);
    bad[BHS_LENGTH + 700] = bad[BHS_LENGTH + 700]! ^ 0x10; // a data byte
    const good = encode({ opcode: 0x00, itt: 2, data: pattern(7, 1) }, false, true);
    const bytes = Buffer.concat([bad, good]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const dest = Buffer.alloc(OFFSET + SEG.length, 0xee);
      const r = placingReader(true, dest, []);
      const events: ReaderEvent[] = [];
      r.push(bytes.subarray(0, cut));
      drain(r, events);
      r.push(bytes.subarray(cut));
      drain(r, events);
      expect(events.map((e) => e.kind)).toEqual(['data-digest-error', 'pdu']);
      const second = events[1] as Extract<ReaderEvent, { kind: 'pdu' }>;
      expect(second.pdu.bhs.readUInt32BE(16)).toBe(2);
      expect(second.pdu.data.equals(pattern(7, 1))).toBe(true);
    }
  });

  it('a placement of another length is not used: the segment is gathered apart', () => {
    const bytes = dataOut({ itt: 1, ttt: 5, dataSN: 0, offset: 0, data: SEG }, false);
    const wrong = Buffer.alloc(SEG.length - 1, 0xee);
    const r = new PduReader(undefined, () => ({ into: wrong, pooled: false }));
    r.configure({ headerDigest: false, dataDigest: false, maxDataSegment: 8192 });
    r.push(bytes.subarray(0, 500));
    r.push(bytes.subarray(500));
    const ev = r.next();
    expect(ev?.kind).toBe('pdu');
    if (ev?.kind === 'pdu') {
      expect(ev.pdu.data.equals(SEG)).toBe(true);
      expect(ev.pdu.data.buffer).not.toBe(wrong.buffer);
    }
    expect(wrong.every((b) => b === 0xee)).toBe(true);
  });
});
