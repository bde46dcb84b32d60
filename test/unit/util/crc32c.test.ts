// CRC32C (Castagnoli) for iSCSI digests: RFC 3720 B.4 test vectors, a bitwise reference
// implementation for other inputs, and the on-the-wire byte order (least significant first).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32c, putDigest, readDigest } from '../../../src/util/crc32c.js';

/** Straight from the definition: reflected polynomial 0x82F63B78, init and final XOR ~0. */
function reference(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const ascending = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const descending = Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i));
// RFC 3720 B.4: an iSCSI SCSI Read (10) command PDU.
const readPdu = Buffer.from(
  '01c00000000000000000000000000000' +
    '14000000000004000000001400000018' +
    '28000000000000000200000000000000',
  'hex',
);

describe('crc32c', () => {
  it.each([
    ['32 bytes of zeros', Buffer.alloc(32), 0x8a9136aa],
    ['32 bytes of 0xff', Buffer.alloc(32, 0xff), 0x62a8ab43],
    ['32 ascending bytes 0..31', ascending, 0x46dd794e],
    ['32 descending bytes 31..0', descending, 0x113fdb5c],
    ['an iSCSI Read (10) command PDU', readPdu, 0xd9963a56],
  ])('RFC 3720 B.4: %s', (_n, buf, want) => {
    expect(crc32c(buf)).toBe(want);
    expect(reference(buf)).toBe(want);
  });

  it('"123456789" is E3069283h (the standard check value)', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('no bytes → 0', () => {
    expect(crc32c()).toBe(0);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('matches the bitwise reference on random buffers of many lengths', () => {
    for (const len of [1, 2, 3, 4, 7, 8, 15, 16, 63, 64, 1000, 4096, 65537]) {
      const b = randomBytes(len);
      expect(crc32c(b), `length ${len}`).toBe(reference(b));
    }
  });

  it('several parts give the CRC of their concatenation (header + padding, data + padding)', () => {
    const a = randomBytes(48);
    const b = randomBytes(1001);
    const pad = Buffer.alloc(3);
    expect(crc32c(a, b, pad)).toBe(reference(Buffer.concat([a, b, pad])));
    expect(crc32c(a, Buffer.alloc(0), b)).toBe(crc32c(Buffer.concat([a, b])));
  });

  it('always returns an unsigned 32-bit value', () => {
    expect(crc32c(Buffer.alloc(32))).toBeGreaterThan(0x7fffffff);
  });
});

describe('digest byte order', () => {
  it('putDigest writes the CRC least significant byte first (RFC 3720 B.4 "aa 36 91 8a")', () => {
    const b = Buffer.alloc(6);
    putDigest(b, 1, 0x8a9136aa);
    expect([...b]).toEqual([0, 0xaa, 0x36, 0x91, 0x8a, 0]);
    expect(readDigest(b, 1)).toBe(0x8a9136aa);
  });
});
