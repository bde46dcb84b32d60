// The LUN field of the BHS (SAM-5 4.6): peripheral device addressing (00b, bus 0) for
// LUN 0-255 and flat space addressing (01b) for 0-16383; anything else is "no such LUN".
import { describe, expect, it } from 'vitest';
import { BHS_LENGTH, decodeLun, encodeLun } from '../../../../src/iscsi/pdu/bhs.js';

function lunField(...bytes: number[]): Buffer {
  const b = Buffer.alloc(BHS_LENGTH);
  Buffer.from(bytes).copy(b, 8);
  return b;
}

describe('decodeLun', () => {
  it('peripheral device addressing, bus 0', () => {
    expect(decodeLun(lunField(0x00, 0x00))).toBe(0);
    expect(decodeLun(lunField(0x00, 0x05))).toBe(5);
    expect(decodeLun(lunField(0x00, 0xff))).toBe(255);
  });

  it('flat space addressing', () => {
    expect(decodeLun(lunField(0x40, 0x05))).toBe(5);
    expect(decodeLun(lunField(0x41, 0x2c))).toBe(300);
    expect(decodeLun(lunField(0x7f, 0xff))).toBe(16383);
  });

  it('peripheral addressing with a non-zero bus identifier → -1', () => {
    expect(decodeLun(lunField(0x01, 0x05))).toBe(-1);
    expect(decodeLun(lunField(0x3f, 0x00))).toBe(-1);
  });

  it('logical unit (10b) and extended (11b) addressing → -1', () => {
    expect(decodeLun(lunField(0x80, 0x01))).toBe(-1);
    expect(decodeLun(lunField(0xc0, 0x01))).toBe(-1);
    expect(decodeLun(lunField(0xd2, 0x00, 0x00, 0x01))).toBe(-1);
  });

  it.each([2, 3, 4, 5, 6, 7])('a second-level address (byte %i non-zero) → -1', (i) => {
    const bytes = [0x00, 0x01, 0, 0, 0, 0, 0, 0];
    bytes[i] = 0x80;
    expect(decodeLun(lunField(...bytes))).toBe(-1);
  });

  it('reads at a given offset', () => {
    const b = Buffer.from([0xee, 0xee, 0x41, 0x2c, 0, 0, 0, 0, 0, 0]);
    expect(decodeLun(b, 2)).toBe(300);
  });
});

describe('encodeLun', () => {
  it('peripheral for 0-255, flat above', () => {
    const b = Buffer.alloc(BHS_LENGTH);
    encodeLun(5, b);
    expect([...b.subarray(8, 16)]).toEqual([0, 5, 0, 0, 0, 0, 0, 0]);
    encodeLun(300, b);
    expect([...b.subarray(8, 16)]).toEqual([0x41, 0x2c, 0, 0, 0, 0, 0, 0]);
    encodeLun(16383, b);
    expect([...b.subarray(8, 10)]).toEqual([0x7f, 0xff]);
  });

  it('every LUN 0-16383 round-trips', () => {
    const b = Buffer.alloc(BHS_LENGTH);
    for (let lun = 0; lun < 16384; lun++) {
      encodeLun(lun, b);
      expect(decodeLun(b)).toBe(lun);
    }
  });

  it('writes at a given offset and leaves the rest alone', () => {
    const b = Buffer.alloc(12, 0xaa);
    b.fill(0, 2, 10);
    encodeLun(300, b, 2);
    expect([...b]).toEqual([0xaa, 0xaa, 0x41, 0x2c, 0, 0, 0, 0, 0, 0, 0xaa, 0xaa]);
  });
});
