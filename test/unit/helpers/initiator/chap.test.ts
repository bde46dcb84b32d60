import { describe, expect, it } from 'vitest';
import { chapResponse, decodeChapBinary, encodeChapBinary } from '../../../helpers/initiator/chap.js';

describe('CHAP (RFC 1994, RFC 7143 12.1.3)', () => {
  it('computes MD5(identifier || secret || challenge)', () => {
    // Reference value from: printf '\x07secret-12345\xde\xad\xbe\xef\x00\x11' | md5sum
    const r = chapResponse(7, 'secret-12345', Buffer.from('deadbeef0011', 'hex'));
    expect(r.toString('hex')).toBe('1f0ab78603c447ede06a3c0e765fbe07');
  });

  it('decodes hex and base64 binary values', () => {
    expect(decodeChapBinary('0xDEADbeef')).toEqual(Buffer.from('deadbeef', 'hex'));
    expect(decodeChapBinary('0xabc')).toEqual(Buffer.from('0abc', 'hex'));
    expect(decodeChapBinary('0b3q2+7w==')).toEqual(Buffer.from('deadbeef', 'hex'));
    expect(encodeChapBinary(Buffer.from([1, 255]))).toBe('0x01ff');
    expect(() => decodeChapBinary('deadbeef')).toThrow(RangeError);
    expect(() => decodeChapBinary('0xzz')).toThrow(RangeError);
  });
});
