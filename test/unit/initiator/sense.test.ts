import { describe, expect, it } from 'vitest';
import { parseSense } from '../../helpers/initiator/sense.js';

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
