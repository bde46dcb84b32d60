// The loopback's sense decoder is what every other SCSI test trusts: check it on hand-written
// bytes (SPC-4 4.5.2 and 4.5.3) before relying on it.
import { describe, expect, it } from 'vitest';
import { decodeSense } from '../../helpers/loopback.js';

describe('loopback sense decoder', () => {
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
      information: 0x01020304n,
      field: { inCdb: true, byte: 0x0102, bit: 5 },
      descriptorTypes: [],
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
      information: 0x1234n,
      field: { inCdb: true, byte: 7 },
      descriptorTypes: [0x00, 0x02],
    });
  });

  it('refuses sense data it cannot read', () => {
    expect(() => decodeSense(Buffer.from([0x70, 0, 5]))).toThrow(/too short/);
    expect(() => decodeSense(Buffer.from([0x72, 5, 0x24, 0, 0, 0, 0, 12]))).toThrow(/additional length/);
    expect(() => decodeSense(Buffer.alloc(18))).toThrow(/response code/);
  });
});
