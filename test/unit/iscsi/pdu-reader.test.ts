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
