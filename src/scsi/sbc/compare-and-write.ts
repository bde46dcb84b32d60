import { checkRange, invalidField, readU64, usage } from '../cdb.js';
import { Limits } from '../limits.js';
import type { LuView } from '../lu-view.js';
import type { Medium } from '../medium.js';
import { defineRow, type ExecContext, type ParsedCdb } from '../opcode-table.js';
import { reason, type SenseReason } from '../sense-reason.js';
import { RwCdbByte1 } from '../spec/cdb.js';
import { Opcode } from '../spec/opcodes.js';
import { firstDifference, withBlocks } from './medium.js';
import { lockedRange } from './read-write.js';

export interface CompareAndWriteCdb extends ParsedCdb {
  readonly lba: number;
  readonly blocks: number;
  readonly fua: boolean;
  readonly dataOutLength: number;
}

/**
 * The data-out a command calls for must be exactly what the initiator announced (EDTL):
 * a COMPARE AND WRITE or WRITE SAME cannot run on part of its data-out, nor guess what extra
 * bytes meant. A shorter EDTL is refused by the gate (no truncateDataOut); a longer one here,
 * before the medium is touched.
 */
export function dataOutMismatch(
  ctx: ExecContext,
  expected: number,
  lengthField: number,
): SenseReason | undefined {
  const edtl = ctx.cmd.writeExpected ? ctx.cmd.expectedLength : 0;
  return edtl === expected ? undefined : invalidField(lengthField);
}

/**
 * COMPARE AND WRITE (SBC-3 5.2): the data-out holds the verify data then the write data,
 * NUMBER OF LOGICAL BLOCKS each. Atomic against every other write to the range: the range
 * lock is held over read, compare and write (VMware ATS relies on it; DESIGN.md rule 5).
 */
export const compareAndWrite = defineRow<CompareAndWriteCdb>({
  name: 'COMPARE AND WRITE',
  opcode: Opcode.COMPARE_AND_WRITE,
  cdbLength: 16,
  // Byte 1: WRPROTECT (checked in parse), DPO, FUA, FUA_NV; byte 14: GROUP NUMBER.
  usage: usage(0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0x3f, 0x00),
  direction: 'out',
  writesMedium: true,
  // Held over read, compare and write: the gate locks the range before execute runs.
  writes: lockedRange,
  parse(cdb, lu) {
    if ((cdb[1]! & RwCdbByte1.PROTECT_MASK) !== 0) return invalidField(1, 7); // no protection information
    const lba = readU64(cdb, 2);
    const blocks = cdb[13]!;
    const out = checkRange(lu!, lba, blocks);
    if (out) return out;
    if (blocks > Limits.maxCompareAndWriteBlocks) return invalidField(13);
    return { lba, blocks, fua: (cdb[1]! & RwCdbByte1.FUA) !== 0, dataOutLength: 2 * blocks * lu!.blockSize };
  },
  async execute(ctx, p) {
    const bad = dataOutMismatch(ctx, p.dataOutLength, 13);
    if (bad) return bad;
    // SBC-3 5.2: zero blocks compares and writes nothing, and is not an error.
    if (p.blocks === 0) return undefined;
    return compareThenWrite(ctx.lu!, ctx.medium, p, ctx.dataOut);
  },
});

async function compareThenWrite(
  lu: LuView,
  writer: Medium,
  p: CompareAndWriteCdb,
  dataOut: Buffer,
): Promise<SenseReason | undefined> {
  const half = p.blocks * lu.blockSize;
  const verify = dataOut.subarray(0, half);
  const at = await withBlocks(lu, p.lba, p.blocks, (medium) =>
    firstDifference(verify, medium.subarray(0, half)),
  );
  if (at >= 0) {
    // SBC-3 5.2: INFORMATION = offset from the start of the data-out buffer of the first
    // byte that did not match.
    return reason('MISCOMPARE_DURING_VERIFY_OPERATION', { information: at });
  }
  await writer.write(p.lba, dataOut.subarray(half, 2 * half), p.fua);
  return undefined;
}
