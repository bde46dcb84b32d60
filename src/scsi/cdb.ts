import type { LuView } from './lu-view.js';
import { reason, type SenseReason } from './sense-reason.js';

/** LBA and transfer length of a READ/WRITE-family CDB, by CDB size (SBC-3 5.x). */
export interface LbaRange {
  readonly lba: number;
  readonly blocks: number;
}

export function lbaRange(cdb: Buffer): LbaRange {
  switch (groupLength(cdb[0]!)) {
    case 6: {
      const lba = ((cdb[1]! & 0x1f) << 16) | cdb.readUInt16BE(2);
      return { lba, blocks: cdb[4]! };
    }
    case 10:
      return { lba: cdb.readUInt32BE(2), blocks: cdb.readUInt16BE(7) };
    case 12:
      return { lba: cdb.readUInt32BE(2), blocks: cdb.readUInt32BE(6) };
    default:
      return { lba: readU64(cdb, 2), blocks: cdb.readUInt32BE(10) };
  }
}

/** CDB length implied by the opcode's group code (SPC-4 4.2.5.1). */
export function groupLength(opcode: number): number {
  switch (opcode >> 5) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return 16;
  }
}

/** A 64-bit big-endian field as a JS number; values past 2^53 saturate (always out of range). */
export function readU64(b: Buffer, off: number): number {
  const hi = b.readUInt32BE(off);
  const lo = b.readUInt32BE(off + 4);
  if (hi >= 0x200000) return Number.MAX_SAFE_INTEGER;
  return hi * 0x100000000 + lo;
}

export function writeU64(b: Buffer, off: number, v: number): void {
  b.writeUInt32BE(Math.floor(v / 0x100000000), off);
  b.writeUInt32BE(v >>> 0, off + 4);
}

/** SBC-3 4.5: LBA + transfer length past the capacity is LOGICAL BLOCK ADDRESS OUT OF RANGE. */
export function checkRange(lu: LuView, lba: number, blocks: number): SenseReason | undefined {
  const cap = lu.blocks;
  if (lba > cap || blocks > cap - lba) return reason('LOGICAL_BLOCK_ADDRESS_OUT_OF_RANGE');
  return undefined;
}

export function invalidField(byte: number, bit?: number): SenseReason {
  return reason('INVALID_FIELD_IN_CDB', {
    field: bit === undefined ? { inCdb: true, byte } : { inCdb: true, byte, bit },
  });
}

/** Usage mask helper: [opcode byte, ...rest]; the opcode byte is always fully used. */
export function usage(...bytes: number[]): number[] {
  return [0xff, ...bytes];
}
