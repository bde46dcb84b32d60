import { checkRange, invalidField, lbaRange, usage } from '../cdb.js';
import { maxTransferBlocks } from '../limits.js';
import { defineRow, type OpcodeRow, type ParsedCdb } from '../opcode-table.js';
import { reason } from '../sense-reason.js';
import { RwCdbByte1 } from '../spec/cdb.js';
import { Opcode } from '../spec/opcodes.js';
import { firstDifference, withBlocks } from './medium.js';
import { lockedRange, transferLengthField } from './read-write.js';

interface WriteVerifyCdb extends ParsedCdb {
  readonly lba: number;
  readonly blocks: number;
  readonly bytchk: boolean;
  readonly dataOutLength: number;
}

/**
 * WRITE AND VERIFY(10/12/16) (SBC-3 5.38–5.40): the data is written through to stable
 * storage (the verify is of the medium, not of the cache), then with BYTCHK = 1 read back and
 * compared byte for byte; a difference is MISCOMPARE with the offset in INFORMATION.
 */
function writeVerifyRow(name: string, opcode: number, u: number[]): OpcodeRow<WriteVerifyCdb> {
  return defineRow<WriteVerifyCdb>({
    name,
    opcode,
    cdbLength: u.length,
    usage: u,
    direction: 'out',
    writesMedium: true,
    writes: lockedRange,
    parse(cdb, lu) {
      if ((cdb[1]! & RwCdbByte1.PROTECT_MASK) !== 0) return invalidField(1, 7); // WRPROTECT: no protection information
      // BYTCHK is one bit in SBC-3; SBC-4 widens it to bits 2:1 and reserves 1xb here.
      const bytchk = (cdb[1]! & 0x02) !== 0;
      const { lba, blocks } = lbaRange(cdb);
      const out = checkRange(lu!, lba, blocks);
      if (out) return out;
      if (blocks > maxTransferBlocks(lu!.blockSize)) return invalidField(transferLengthField(opcode));
      return { lba, blocks, bytchk, dataOutLength: blocks * lu!.blockSize };
    },
    truncateDataOut(p, bytes, lu) {
      if (bytes % lu.blockSize !== 0) return undefined;
      return { ...p, blocks: bytes / lu.blockSize, dataOutLength: bytes };
    },
    async execute(ctx, p) {
      if (p.blocks === 0) return undefined;
      const lu = ctx.lu!;
      // The gate holds the range lock over write and read-back (rule 5).
      await ctx.medium.write(p.lba, ctx.dataOut, true);
      if (!p.bytchk) return undefined;
      const at = await withBlocks(lu, p.lba, p.blocks, (medium) =>
        firstDifference(ctx.dataOut, medium.subarray(0, ctx.dataOut.length)),
      );
      return at < 0 ? undefined : reason('MISCOMPARE_DURING_VERIFY_OPERATION', { information: at });
    },
  });
}

// Byte 1: WRPROTECT (checked in parse), DPO, BYTCHK; GROUP NUMBER kept.
export const writeAndVerify10 = writeVerifyRow(
  'WRITE AND VERIFY(10)',
  Opcode.WRITE_AND_VERIFY_10,
  usage(0xf2, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x00),
);
export const writeAndVerify12 = writeVerifyRow(
  'WRITE AND VERIFY(12)',
  Opcode.WRITE_AND_VERIFY_12,
  usage(0xf2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00),
);
export const writeAndVerify16 = writeVerifyRow(
  'WRITE AND VERIFY(16)',
  Opcode.WRITE_AND_VERIFY_16,
  usage(0xf2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00),
);
