// The one sense decoder (test/helpers/wire.ts) is what every other SCSI test trusts: check it on
// hand-written bytes (SPC-4 4.5.2 and 4.5.3) before relying on it. decodeSense insists on
// well-formed sense (what Tandem sends); parseSense reads whatever a peer sent, as far as it goes.
import { describe, expect, it } from 'vitest';
import { decodeSense, expectSense, kcq, parseSense, Status, senseOf } from '../../helpers/wire.js';

describe('decodeSense', () => {
  it('decodes fixed format with VALID, INFORMATION and a CDB field pointer with a bit', () => {
    const b = Buffer.alloc(18);
    b[0] = 0xf0; // VALID | 70h
    b[2] = 0x05;
    b.writeUInt32BE(0x01020304, 3);
    b[7] = 10;
    b[12] = 0x24;
    b[13] = 0x00;
    b[15] = 0x80 | 0x40 | 0x08 | 0x05; // SKSV, C/D, BPV, bit 5
    b.writeUInt16BE(0x0102, 16);
    expect(decodeSense(b)).toEqual({
      format: 'fixed',
      responseCode: 0x70,
      key: 5,
      asc: 0x24,
      ascq: 0,
      deferred: false,
      information: 0x01020304n,
      senseKeySpecific: Buffer.from([0xcd, 0x01, 0x02]),
      field: { inCdb: true, byte: 0x0102, bit: 5 },
      descriptors: [],
      descriptorTypes: [],
      raw: b,
    });
  });

  it('ignores INFORMATION without VALID and the field pointer without SKSV', () => {
    const b = Buffer.alloc(18);
    b[0] = 0x70;
    b[2] = 0x06;
    b.writeUInt32BE(99, 3);
    b[12] = 0x29;
    b[16] = 7;
    const s = decodeSense(b);
    expect(s.information).toBeUndefined();
    expect(s.field).toBeUndefined();
    expect([s.key, s.asc, s.ascq]).toEqual([6, 0x29, 0]);
  });

  it('decodes descriptor format with information and sense-key specific descriptors', () => {
    const b = Buffer.from([
      0x72, 0x0e, 0x1d, 0x00, 0, 0, 0, 20, 0x00, 0x0a, 0x80, 0x00, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x02, 0x06,
      0x00, 0x00, 0xc0, 0x00, 0x07, 0x00,
    ]);
    expect(decodeSense(b)).toEqual({
      format: 'descriptor',
      responseCode: 0x72,
      key: 0x0e,
      asc: 0x1d,
      ascq: 0,
      deferred: false,
      information: 0x1234n,
      senseKeySpecific: Buffer.from([0xc0, 0x00, 0x07]),
      field: { inCdb: true, byte: 7 },
      descriptors: [
        { type: 0x00, body: b.subarray(10, 20) },
        { type: 0x02, body: b.subarray(22, 28) },
      ],
      descriptorTypes: [0x00, 0x02],
      raw: b,
    });
  });

  it('refuses sense data it cannot read', () => {
    expect(() => decodeSense(Buffer.from([0x70, 0, 5]))).toThrow(/too short/);
    expect(() => decodeSense(Buffer.from([0x72, 5, 0x24, 0, 0, 0, 0, 12]))).toThrow(/additional length/);
    expect(() => decodeSense(Buffer.alloc(18))).toThrow(/response code/);
  });
});

describe('parseSense', () => {
  it('parses fixed format with VALID information and sense-key specific bytes', () => {
    const raw = Buffer.alloc(18);
    raw[0] = 0xf0; // VALID + 0x70
    raw[2] = 0x05;
    raw.writeUInt32BE(0x1234, 3);
    raw[7] = 10;
    raw[12] = 0x24;
    raw[13] = 0x01;
    raw[15] = 0xc0;
    raw[16] = 0x00;
    raw[17] = 0x02;
    expect(parseSense(raw)).toMatchObject({
      responseCode: 0x70,
      format: 'fixed',
      deferred: false,
      key: 5,
      asc: 0x24,
      ascq: 0x01,
      information: 0x1234n,
      senseKeySpecific: Buffer.from([0xc0, 0x00, 0x02]),
    });
  });

  it('parses deferred fixed format (0x71)', () => {
    const raw = Buffer.from('7100030000000000000000001100', 'hex');
    expect(parseSense(raw)).toMatchObject({ deferred: true, key: 3, asc: 0x11, ascq: 0 });
  });

  it('parses descriptor format with an information descriptor', () => {
    const raw = Buffer.concat([
      Buffer.from([0x72, 0x06, 0x29, 0x02, 0, 0, 0, 12]),
      Buffer.from([0x00, 0x0a, 0x80, 0x00]),
      Buffer.from('0000000000000042', 'hex'),
    ]);
    const s = parseSense(raw)!;
    expect(s).toMatchObject({ format: 'descriptor', key: 6, asc: 0x29, ascq: 0x02, information: 0x42n });
    expect(s.descriptors).toHaveLength(1);
    expect(s.descriptors[0]!.type).toBe(0);
  });

  it('parses deferred descriptor format (0x73) and returns undefined for unknown codes', () => {
    expect(parseSense(Buffer.from([0x73, 0x0b, 0x47, 0x03, 0, 0, 0, 0]))).toMatchObject({
      deferred: true,
      key: 0x0b,
    });
    expect(parseSense(Buffer.from([0x7f, 0, 0]))).toBeUndefined();
    expect(parseSense(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('kcq, senseOf and expectSense', () => {
  const check = (sense: Buffer) => ({ status: Status.CHECK_CONDITION, sense });
  const fixed = Buffer.alloc(18);
  fixed[0] = 0x70;
  fixed[2] = 0x05;
  fixed[12] = 0x24;

  it('names GOOD and CONDITION MET, and other statuses by number', () => {
    expect(kcq({ status: Status.GOOD })).toBe('GOOD');
    expect(kcq({ status: Status.CONDITION_MET })).toBe('CONDITION MET');
    expect(kcq({ status: Status.RESERVATION_CONFLICT })).toBe('status 24');
    expect(kcq({ status: Status.CHECK_CONDITION })).toBe('status 2');
  });

  it('reads raw sense bytes (a loopback completion) and decoded sense (an initiator result) alike', () => {
    expect(kcq(check(fixed))).toBe('05/24/00');
    expect(kcq({ status: Status.CHECK_CONDITION, sense: parseSense(fixed)! })).toBe('05/24/00');
    expect(senseOf(check(fixed)).key).toBe(0x05);
  });

  it('expectSense passes on the same key/ASC/ASCQ and fails on any other, or on GOOD', () => {
    expect(expectSense(check(fixed), 0x05, 0x24, 0x00).asc).toBe(0x24);
    expect(() => expectSense(check(fixed), 0x05, 0x24, 0x01)).toThrow(/05\/24\/01/);
    expect(() => expectSense({ status: Status.GOOD }, 0x05, 0x24, 0x00)).toThrow(/GOOD/);
    expect(() => senseOf({ status: Status.GOOD })).toThrow(/not CHECK CONDITION/);
  });
});
