import { readU64, usage, writeU64 } from '../cdb.js';
import { Limits } from '../limits.js';
import type { LuView } from '../lu-view.js';
import { defineRow } from '../opcode-table.js';
import { reason } from '../sense-reason.js';
import { Opcode, ServiceAction } from '../spec/opcodes.js';

/** PROVISIONING STATUS of an LBA status descriptor (SBC-3 5.16.2, Table 45). */
export const ProvisioningStatus = { MAPPED: 0x0, DEALLOCATED: 0x1, ANCHORED: 0x2 } as const;

interface GetLbaStatusCdb {
  readonly lba: number;
  readonly allocationLength: number;
}

interface Run {
  lba: number;
  blocks: number;
  status: number;
}

/** NUMBER OF LOGICAL BLOCKS is 32 bits: longer runs become several descriptors. */
const MAX_RUN = 0xffffffff;

/**
 * Walks the device's allocation from `start`: a block is deallocated only when all of its
 * bytes are (a run of holes shorter than a block leaves it mapped, and counts as such).
 */
export async function lbaStatus(lu: LuView, start: number, maxRuns: number): Promise<Run[]> {
  const bs = lu.blockSize;
  const cap = lu.blocks;
  const runs: Run[] = [];
  let lba = start;
  while (lba < cap) {
    let status: number = ProvisioningStatus.MAPPED;
    let end = cap;
    if (lu.device.allocation) {
      const off = lba * bs;
      const ext = await lu.device.allocation(off, cap * bs - off);
      const byteEnd = off + ext.length;
      if (ext.mapped) {
        end = Math.ceil(byteEnd / bs);
      } else {
        end = Math.floor(byteEnd / bs);
        if (end > lba) status = ProvisioningStatus.DEALLOCATED;
        else end = lba + 1; // less than a block of hole: the block holds data
      }
    }
    const last = runs[runs.length - 1];
    if (
      last &&
      last.status === status &&
      last.lba + last.blocks === lba &&
      last.blocks + (end - lba) <= MAX_RUN
    ) {
      last.blocks += end - lba;
    } else {
      if (runs.length === maxRuns) break;
      runs.push({ lba, blocks: Math.min(end - lba, MAX_RUN), status });
      end = lba + Math.min(end - lba, MAX_RUN);
    }
    lba = end;
  }
  return runs;
}

/**
 * GET LBA STATUS (SBC-3 5.16): SERVICE ACTION IN(16), service action 12h. Reports, from the
 * STARTING LOGICAL BLOCK ADDRESS on, runs of mapped and deallocated blocks as the backing
 * store really has them (holes of the file, pages of the RAM disk).
 */
export const getLbaStatus = defineRow<GetLbaStatusCdb>({
  name: 'GET LBA STATUS',
  opcode: Opcode.SERVICE_ACTION_IN_16,
  serviceAction: ServiceAction.GET_LBA_STATUS,
  cdbLength: 16,
  usage: usage(0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00),
  direction: 'in',
  parse(cdb, lu) {
    const lba = readU64(cdb, 2);
    // SBC-3 5.16.1: a starting LBA past the last LBA is out of range.
    if (lba >= lu!.blocks) return reason('LOGICAL_BLOCK_ADDRESS_OUT_OF_RANGE');
    return { lba, allocationLength: cdb.readUInt32BE(10) };
  },
  async execute(ctx, p) {
    const lu = ctx.lu!;
    // Never more descriptors than the initiator can receive (at least the first one).
    const room = Math.max(1, Math.floor((Math.min(p.allocationLength, 1 << 24) - 8) / 16));
    const runs = await lbaStatus(lu, p.lba, Math.min(room, Limits.maxLbaStatusDescriptors));
    const b = Buffer.alloc(8 + 16 * runs.length);
    b.writeUInt32BE(b.length - 4, 0); // PARAMETER DATA LENGTH
    runs.forEach((r, i) => {
      const at = 8 + 16 * i;
      writeU64(b, at, r.lba);
      b.writeUInt32BE(r.blocks, at + 8);
      b[at + 12] = r.status;
    });
    return { data: b };
  },
});
