import { readU64, usage } from '../cdb.js';
import { Limits } from '../limits.js';
import type { LuView } from '../lu-view.js';
import { defineRow, type OpcodeRow, type ParsedCdb } from '../opcode-table.js';
import { reason } from '../sense-reason.js';
import { Opcode } from '../spec/opcodes.js';
import { ScsiStatus } from '../spec/status.js';

interface PrefetchCdb extends ParsedCdb {
  readonly lba: number;
  readonly blocks: number;
}

export function maxPrefetchBlocks(lu: LuView): number {
  return Limits.maxPrefetchBytes / lu.blockSize;
}

/**
 * PRE-FETCH(10/16) (SBC-3 5.11, 5.12). PREFETCH LENGTH zero means "to the last LBA". A range
 * that fits the cache (MAXIMUM PREFETCH LENGTH) is read into it and the command ends with
 * CONDITION MET; one that does not fit ends GOOD without reading, as the standard says for a
 * cache without room. IMMED changes nothing: the range is in the cache when CONDITION MET
 * is returned either way.
 */
function prefetchRow(name: string, opcode: number, u: number[]): OpcodeRow<PrefetchCdb> {
  const sixteen = u.length === 16;
  return defineRow<PrefetchCdb>({
    name,
    opcode,
    cdbLength: u.length,
    usage: u,
    direction: 'none',
    parse(cdb, lu) {
      const lba = sixteen ? readU64(cdb, 2) : cdb.readUInt32BE(2);
      const count = sixteen ? cdb.readUInt32BE(10) : cdb.readUInt16BE(7);
      const cap = lu!.blocks;
      if (lba > cap || count > cap - lba) return reason('LOGICAL_BLOCK_ADDRESS_OUT_OF_RANGE');
      return { lba, blocks: count === 0 ? cap - lba : count };
    },
    async execute(ctx, p) {
      const lu = ctx.lu!;
      if (p.blocks > maxPrefetchBlocks(lu)) return undefined;
      if (p.blocks > 0 && lu.device.prefetch)
        await lu.device.prefetch(p.lba * lu.blockSize, p.blocks * lu.blockSize);
      return { status: ScsiStatus.CONDITION_MET };
    },
  });
}

// Byte 1: IMMED; GROUP NUMBER kept.
export const prefetch10 = prefetchRow(
  'PRE-FETCH(10)',
  Opcode.PRE_FETCH_10,
  usage(0x02, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x00),
);
export const prefetch16 = prefetchRow(
  'PRE-FETCH(16)',
  Opcode.PRE_FETCH_16,
  usage(0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00),
);
