import { invalidField, readU64, usage } from '../cdb.js';
import { Limits } from '../limits.js';
import type { LuView } from '../lu-view.js';
import { defineRow, type ParsedCdb } from '../opcode-table.js';
import { reason, type SenseReason } from '../sense-reason.js';
import { Opcode } from '../spec/opcodes.js';

interface UnmapCdb extends ParsedCdb {
  readonly dataOutLength: number;
}

interface Descriptor {
  readonly lba: number;
  readonly blocks: number;
}

const paramError = (byte: number): SenseReason =>
  reason('INVALID_FIELD_IN_PARAMETER_LIST', { field: { inCdb: false, byte } });

/**
 * Decodes and checks the whole UNMAP parameter list (SBC-3 5.28.2) before anything is
 * deallocated, so a bad descriptor leaves the medium untouched.
 */
export function parseUnmapList(lu: LuView, list: Buffer): Descriptor[] | SenseReason {
  // SBC-3 5.28.1: a parameter list shorter than its 8-byte header is a length error.
  if (list.length < 8) return reason('PARAMETER_LIST_LENGTH_ERROR');
  // UNMAP BLOCK DESCRIPTOR DATA LENGTH: what the list says it holds, bounded by what was
  // sent; an incomplete last descriptor is ignored (SBC-3 5.28.2).
  const declared = list.readUInt16BE(2);
  const available = Math.min(declared, list.length - 8);
  const count = Math.floor(available / 16);
  if (count > Limits.maxUnmapDescriptors) return paramError(2);
  const cap = lu.blocks;
  const out: Descriptor[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const at = 8 + 16 * i;
    const lba = readU64(list, at);
    const blocks = list.readUInt32BE(at + 8);
    if (lba > cap || blocks > cap - lba) return reason('LOGICAL_BLOCK_ADDRESS_OUT_OF_RANGE');
    total += blocks;
    // MAXIMUM UNMAP LBA COUNT bounds the whole command (SBC-3 6.6.4).
    if (total > Limits.maxUnmapBlocks) return paramError(at + 8);
    if (blocks > 0) out.push({ lba, blocks });
  }
  return out;
}

/** UNMAP (SBC-3 5.28): deallocates each described range; ANC_SUP = 0, so no ANCHOR. */
export const unmap = defineRow<UnmapCdb>({
  name: 'UNMAP',
  opcode: Opcode.UNMAP,
  cdbLength: 10,
  usage: usage(0x01, 0x00, 0x00, 0x00, 0x00, 0x3f, 0xff, 0xff, 0x00),
  direction: 'out',
  writesMedium: true,
  // The ranges are in the parameter list: each descriptor's is locked on its own.
  writes: 'per-write',
  parse(cdb, lu) {
    if (!lu!.thin) return reason('INVALID_COMMAND_OPERATION_CODE');
    if ((cdb[1]! & 0x01) !== 0) return invalidField(1, 0);
    const dataOutLength = cdb.readUInt16BE(7);
    // SBC-3 5.28.1: 1 to 7 bytes cannot hold the parameter list header.
    if (dataOutLength > 0 && dataOutLength < 8) return reason('PARAMETER_LIST_LENGTH_ERROR');
    return { dataOutLength };
  },
  async execute(ctx, p) {
    // A PARAMETER LIST LENGTH of zero unmaps nothing and is not an error.
    if (p.dataOutLength === 0) return undefined;
    const lu = ctx.lu!;
    const list = parseUnmapList(lu, ctx.dataOut);
    if (!Array.isArray(list)) return list;
    for (const d of list) await ctx.medium.deallocate(d.lba, d.blocks);
    return undefined;
  },
});
