// CHAP for iSCSI login (RFC 7143 12.1.3, RFC 1994): MD5 over identifier byte, secret, challenge.
import { createHash, randomBytes } from 'node:crypto';

export const CHAP_MD5 = 5;

/** Decodes a CHAP binary value: 0x-prefixed hex or 0b-prefixed base64 (RFC 7143 6.1). */
export function decodeChapBinary(v: string): Buffer {
  if (/^0x/i.test(v)) {
    const hex = v.slice(2);
    if (hex.length === 0 || !/^[0-9a-fA-F]+$/.test(hex)) throw new RangeError(`bad hex value ${v}`);
    return Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex');
  }
  if (/^0b/i.test(v)) return Buffer.from(v.slice(2), 'base64');
  throw new RangeError(`CHAP binary value without 0x/0b prefix: ${v}`);
}

export function encodeChapBinary(b: Buffer): string {
  return '0x' + b.toString('hex');
}

export function chapResponse(identifier: number, secret: string | Buffer, challenge: Buffer): Buffer {
  return createHash('md5')
    .update(Buffer.from([identifier & 0xff]))
    .update(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret)
    .update(challenge)
    .digest();
}

export function newChapChallenge(): { identifier: number; challenge: Buffer } {
  return { identifier: randomBytes(1)[0]!, challenge: randomBytes(16) };
}
