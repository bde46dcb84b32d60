// CRC32C (Castagnoli) for iSCSI header and data digests (RFC 7143 13.1), from @node-rs/crc32
// (hardware-accelerated). putDigest/readDigest are the only two places that encode it.
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

export function crc32c(...parts: Buffer[]): number {
  let crc = 0;
  for (const p of parts) if (p.length > 0) crc = nativeCrc32c(p, crc);
  return crc >>> 0;
}

/** iSCSI sends the CRC32C value least significant byte first (RFC 7143 Appendix B). */
export function putDigest(buf: Buffer, offset: number, crc: number): void {
  buf.writeUInt32LE(crc >>> 0, offset);
}

export function readDigest(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset);
}
