import { invalidField, readU64, usage } from '../cdb.js';
import { Limits } from '../limits.js';
import type { LuView } from '../lu-view.js';
import { defineRow, type OpcodeRow, type ParsedCdb } from '../opcode-table.js';
import { reason } from '../sense-reason.js';
import { RwCdbByte1, WriteSameCdbByte1 } from '../spec/cdb.js';
import { Opcode } from '../spec/opcodes.js';
import { dataOutMismatch } from './compare-and-write.js';
import { lockedRange } from './read-write.js';

export interface WriteSameCdb extends ParsedCdb {
  readonly lba: number;
  readonly blocks: number;
  readonly unmap: boolean;
  /** NDOB (SBC-4 5.50): no data-out; the block written is all zeroes. */
  readonly ndob: boolean;
  readonly dataOutLength: number;
}

export function maxWriteSameBlocks(lu: LuView): number {
  return Limits.maxWriteSameBytes / lu.blockSize;
}

/**
 * WRITE SAME(10/16) (SBC-3 5.42, 5.43; NDOB from SBC-4 5.50). WSNZ = 0: NUMBER OF LOGICAL
 * BLOCKS zero means "to the last LBA", within MAXIMUM WRITE SAME LENGTH like any other.
 * ANC_SUP = 0: ANCHOR is refused.
 */
function parseWriteSame(cdb: Buffer, lu: LuView): WriteSameCdb | ReturnType<typeof invalidField> {
  const sixteen = cdb[0] === Opcode.WRITE_SAME_16;
  if ((cdb[1]! & RwCdbByte1.PROTECT_MASK) !== 0) return invalidField(1, 7); // WRPROTECT: no protection information
  const anchor = (cdb[1]! & WriteSameCdbByte1.ANCHOR) !== 0;
  const unmap = (cdb[1]! & WriteSameCdbByte1.UNMAP) !== 0;
  const ndob = sixteen && (cdb[1]! & WriteSameCdbByte1.NDOB) !== 0;
  // SBC-3 5.42: ANCHOR without UNMAP is invalid; with UNMAP it needs ANC_SUP, which is 0.
  if (anchor) return invalidField(1, 4);
  // Unmapping through WRITE SAME is offered exactly when the LU is thin (LBPWS, LBPWS10).
  if (unmap && !lu.thin) return invalidField(1, 3);
  const lba = sixteen ? readU64(cdb, 2) : cdb.readUInt32BE(2);
  const count = sixteen ? cdb.readUInt32BE(10) : cdb.readUInt16BE(7);
  const cap = lu.blocks;
  if (lba > cap || count > cap - lba) return reason('LOGICAL_BLOCK_ADDRESS_OUT_OF_RANGE');
  const blocks = count === 0 ? cap - lba : count;
  if (blocks > maxWriteSameBlocks(lu)) return invalidField(sixteen ? 10 : 7);
  return { lba, blocks, unmap, ndob, dataOutLength: ndob ? 0 : lu.blockSize };
}

function writeSameRow(name: string, opcode: number, u: number[]): OpcodeRow<WriteSameCdb> {
  const lengthField = u.length === 16 ? 10 : 7;
  return defineRow<WriteSameCdb>({
    name,
    opcode,
    cdbLength: u.length,
    usage: u,
    direction: 'out',
    writesMedium: true,
    writes: lockedRange,
    parse: (cdb, lu) => parseWriteSame(cdb, lu!),
    async execute(ctx, p) {
      const bad = dataOutMismatch(ctx, p.dataOutLength, lengthField);
      if (bad) return bad;
      if (p.blocks === 0) return undefined;
      const lu = ctx.lu!;
      if (p.unmap) {
        // The range is deallocated whatever the data-out holds: the blocks then read as
        // zeroes (LBPRZ = 1), which is what libiscsi and Linux expect of WRITE SAME UNMAP.
        await ctx.medium.deallocate(p.lba, p.blocks);
      } else {
        const block = p.ndob ? Buffer.alloc(lu.blockSize) : ctx.dataOut.subarray(0, lu.blockSize);
        await ctx.medium.writePattern(p.lba, p.blocks, block, false);
      }
      return undefined;
    },
  });
}

// Byte 1: WRPROTECT (checked in parse), ANCHOR, UNMAP; PBDATA/LBDATA are obsolete (SBC-3):
// outside the mask. WRITE SAME(16) adds NDOB (bit 0).
export const writeSame10 = writeSameRow(
  'WRITE SAME(10)',
  Opcode.WRITE_SAME_10,
  usage(0xf8, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x00),
);
export const writeSame16 = writeSameRow(
  'WRITE SAME(16)',
  Opcode.WRITE_SAME_16,
  usage(0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00),
);
