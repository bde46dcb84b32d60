// EXTENDED COPY (LID1, SPC-4 6.4) parameter lists for the tests: the CDB, and the one shape the
// gate tests use — two identification CSCDs (E4h) naming LUs by NAA, then one block→block
// segment (02h) from CSCD 0 to CSCD 1.

export function xcopyCdb(length: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0x83;
  b.writeUInt32BE(length, 10);
  return b;
}

/** Offset of the segment descriptor in copyList's parameter list (header + two CSCDs). */
export const COPY_LIST_SEGMENT = 16 + 64;

export function copyList(
  src: Buffer,
  dst: Buffer,
  blocks: number,
  srcLba: number,
  dstLba: number,
  blockSize = 512,
): Buffer {
  const cscds = [src, dst].map((naa) => {
    const d = Buffer.alloc(32);
    d[0] = 0xe4;
    d[4] = 0x01;
    d[5] = 0x03;
    d[7] = naa.length;
    naa.copy(d, 8);
    d.writeUIntBE(blockSize, 29, 3);
    return d;
  });
  const seg = Buffer.alloc(28);
  seg[0] = 0x02;
  seg.writeUInt16BE(0x18, 2);
  seg.writeUInt16BE(1, 6);
  seg.writeUInt16BE(blocks, 10);
  seg.writeBigUInt64BE(BigInt(srcLba), 12);
  seg.writeBigUInt64BE(BigInt(dstLba), 20);
  const h = Buffer.alloc(16);
  h[1] = 0b11 << 3; // NO LIST ID
  h.writeUInt16BE(64, 2);
  h.writeUInt32BE(28, 8);
  return Buffer.concat([h, ...cscds, seg]);
}
