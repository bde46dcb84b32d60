import { checkRange, invalidField, lbaRange, readU64, usage } from '../cdb.js';
import { maxTransferBlocks } from '../limits.js';
import type { LuView } from '../lu-view.js';
import { defineRow, type OpcodeRow, type ParsedCdb } from '../opcode-table.js';
import { reason } from '../sense-reason.js';
import { Opcode } from '../spec/opcodes.js';
import { transferLengthField } from './read-write.js';

interface SyncCdb extends ParsedCdb {
  lba: number;
  blocks: number;
}

function syncRow(name: string, opcode: number, u: number[]): OpcodeRow<SyncCdb> {
  return defineRow<SyncCdb>({
    name,
    opcode,
    cdbLength: u.length,
    usage: u,
    direction: 'none',
    timeout: { nominal: 5, recommended: 60 },
    parse(cdb, lu) {
      const sixteen = u.length === 16;
      const lba = sixteen ? readU64(cdb, 2) : cdb.readUInt32BE(2);
      const blocks = sixteen ? cdb.readUInt32BE(10) : cdb.readUInt16BE(7);
      // SBC-3 5.22: NUMBER OF LOGICAL BLOCKS zero means "to the end of the medium".
      return checkRange(lu!, lba, blocks) ?? { lba, blocks };
    },
    async execute(ctx) {
      // IMMED is honoured by completing only after the flush anyway: never report GOOD for
      // data that is not yet durable.
      await ctx.lu!.device.flush();
      return undefined;
    },
  });
}

export const synchronizeCache10 = syncRow(
  'SYNCHRONIZE CACHE(10)',
  Opcode.SYNCHRONIZE_CACHE_10,
  usage(0x02, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x00),
);
export const synchronizeCache16 = syncRow(
  'SYNCHRONIZE CACHE(16)',
  Opcode.SYNCHRONIZE_CACHE_16,
  usage(0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00),
);

interface VerifyCdb extends ParsedCdb {
  lba: number;
  blocks: number;
  bytchk: number;
}

/**
 * VERIFY(10/12/16) (SBC-3 5.24–5.26): BYTCHK 0 checks the medium only (always readable here),
 * 01b compares the data-out with the medium, 11b compares one block against every block.
 */
function verifyRow(name: string, opcode: number, u: number[]): OpcodeRow<VerifyCdb> {
  return defineRow<VerifyCdb>({
    name,
    opcode,
    cdbLength: u.length,
    usage: u,
    direction: 'out',
    parse(cdb, lu) {
      if ((cdb[1]! & 0xe0) !== 0) return invalidField(1, 7); // VRPROTECT: no protection info
      const bytchk = (cdb[1]! >> 1) & 0x03;
      if (bytchk === 2) return invalidField(1, 2);
      const { lba, blocks } = lbaRange(cdb);
      const out = checkRange(lu!, lba, blocks);
      if (out) return out;
      if (blocks > maxTransferBlocks(lu!.blockSize)) return invalidField(transferLengthField(opcode));
      const bs = lu!.blockSize;
      const dataOutLength = blocks === 0 || bytchk === 0 ? 0 : bytchk === 1 ? blocks * bs : bs;
      return { lba, blocks, bytchk, dataOutLength };
    },
    async execute(ctx, p) {
      if (p.bytchk === 0 || p.blocks === 0) return undefined;
      return compare(ctx.lu!, p, ctx.dataOut);
    },
  });
}

async function compare(lu: LuView, p: VerifyCdb, dataOut: Buffer) {
  const bs = lu.blockSize;
  const medium = await lu.device.read(p.lba * bs, p.blocks * bs);
  for (let i = 0; i < p.blocks; i++) {
    const expected = p.bytchk === 1 ? dataOut.subarray(i * bs, (i + 1) * bs) : dataOut;
    const got = medium.subarray(i * bs, (i + 1) * bs);
    if (!expected.equals(got)) {
      let off = 0;
      while (off < bs && expected[off] === got[off]) off++;
      // SBC-3 5.24: INFORMATION = offset of the first miscompared byte in the data-out buffer
      // (for BYTCHK 11b, within the medium range).
      return reason('MISCOMPARE_DURING_VERIFY_OPERATION', { information: i * bs + off });
    }
  }
  return undefined;
}

export const verify10 = verifyRow(
  'VERIFY(10)',
  Opcode.VERIFY_10,
  usage(0xf6, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x00),
);
export const verify12 = verifyRow(
  'VERIFY(12)',
  Opcode.VERIFY_12,
  usage(0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00),
);
export const verify16 = verifyRow(
  'VERIFY(16)',
  Opcode.VERIFY_16,
  usage(0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00),
);
