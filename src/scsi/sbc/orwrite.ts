import { checkRange, invalidField, readU64, usage } from '../cdb.js';
import { maxTransferBlocks } from '../limits.js';
import { defineRow } from '../opcode-table.js';
import { RwCdbByte1 } from '../spec/cdb.js';
import { Opcode } from '../spec/opcodes.js';
import { withBlocks } from './medium.js';
import { lockedRange, type RwCdb, truncateRw } from './read-write.js';

/**
 * ORWRITE(16) (SBC-3 5.9): each block becomes (medium OR data-out). Read-modify-write under
 * the range lock, so no other write to the range can slip between the read and the write.
 */
export const orWrite16 = defineRow<RwCdb>({
  name: 'ORWRITE(16)',
  opcode: Opcode.ORWRITE_16,
  cdbLength: 16,
  // Byte 1: ORPROTECT (checked in parse), DPO, FUA, FUA_NV; byte 14: GROUP NUMBER.
  usage: usage(0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00),
  direction: 'out',
  writesMedium: true,
  writes: lockedRange,
  parse(cdb, lu) {
    if ((cdb[1]! & RwCdbByte1.PROTECT_MASK) !== 0) return invalidField(1, 7); // no protection information
    const lba = readU64(cdb, 2);
    const blocks = cdb.readUInt32BE(10);
    const out = checkRange(lu!, lba, blocks);
    if (out) return out;
    if (blocks > maxTransferBlocks(lu!.blockSize)) return invalidField(10);
    return { lba, blocks, fua: (cdb[1]! & RwCdbByte1.FUA) !== 0, dataOutLength: blocks * lu!.blockSize };
  },
  truncateDataOut: truncateRw,
  async execute(ctx, p) {
    if (p.blocks === 0) return undefined;
    const lu = ctx.lu!;
    const out = await withBlocks(lu, p.lba, p.blocks, (medium) => {
      const or = Buffer.allocUnsafe(ctx.dataOut.length);
      for (let i = 0; i < or.length; i++) or[i] = medium[i]! | ctx.dataOut[i]!;
      return or;
    });
    await ctx.medium.write(p.lba, out, p.fua);
    return undefined;
  },
});
