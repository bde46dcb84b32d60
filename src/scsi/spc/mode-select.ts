import { invalidField, usage } from '../cdb.js';
import type { LuView, ModeState } from '../lu-view.js';
import { defineRow, type OpcodeRow, type ParsedCdb } from '../opcode-table.js';
import { reason, type SenseReason } from '../sense-reason.js';
import { Opcode } from '../spec/opcodes.js';
import { MODE_PAGES, type ModePageDef, PageControl } from './mode-pages.js';
import { sameMode } from './mode-store.js';

interface ModeSelectCdb extends ParsedCdb {
  readonly ten: boolean;
  readonly dataOutLength: number;
}

const paramError = (byte: number, bit?: number): SenseReason =>
  reason('INVALID_FIELD_IN_PARAMETER_LIST', {
    field: bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit },
  });

const lengthError = (): SenseReason => reason('PARAMETER_LIST_LENGTH_ERROR');

interface Pending {
  readonly def: ModePageDef;
  readonly page: Buffer;
}

/**
 * Checks a MODE SELECT parameter list (SPC-4 6.9, 7.5.4) against the pages MODE SENSE
 * reports: every page must be one of ours, of its exact length, and differ from the current
 * values only in bits its CHANGEABLE page sets. Nothing is applied unless all of it is valid.
 */
export function checkModeParameters(lu: LuView, list: Buffer, ten: boolean): Pending[] | SenseReason {
  const headerLength = ten ? 8 : 4;
  if (list.length < headerLength) return lengthError();
  // MODE DATA LENGTH is reserved in MODE SELECT; the device-specific parameter's WP and
  // DPOFUA are ignored there (SBC-3 6.4.1). MEDIUM TYPE must be ours (00h).
  const mediumTypeAt = ten ? 2 : 1;
  if (list[mediumTypeAt] !== 0) return paramError(mediumTypeAt);
  const longLba = ten && (list[4]! & 0x01) !== 0;
  const descriptorsAt = ten ? 6 : 3;
  const descriptorLength = ten ? list.readUInt16BE(6) : list[3]!;
  const size = longLba ? 16 : 8;
  if (descriptorLength % size !== 0) return paramError(descriptorsAt);
  if (headerLength + descriptorLength > list.length) return lengthError();
  for (let at = headerLength; at < headerLength + descriptorLength; at += size) {
    // SBC-3 6.4.2: NUMBER OF LOGICAL BLOCKS zero or the capacity (no change), and the LU's
    // own LOGICAL BLOCK LENGTH: the capacity and block size cannot be changed here.
    const count = longLba ? list.readBigUInt64BE(at) : BigInt(list.readUInt32BE(at));
    const current = BigInt(longLba ? lu.blocks : Math.min(lu.blocks, 0xffffffff));
    if (count !== 0n && count !== current) return paramError(at);
    const blockLength = longLba ? list.readUInt32BE(at + 12) : list.readUIntBE(at + 5, 3);
    if (blockLength !== lu.blockSize) return paramError(longLba ? at + 12 : at + 5);
  }
  const pending: Pending[] = [];
  let pos = headerLength + descriptorLength;
  while (pos < list.length) {
    if (list.length - pos < 2) return lengthError();
    const code = list[pos]! & 0x3f;
    const spf = (list[pos]! & 0x40) !== 0;
    // PS is reserved in MODE SELECT (SPC-4 7.5.7).
    if ((list[pos]! & 0x80) !== 0) return paramError(pos, 7);
    if (spf && list.length - pos < 4) return lengthError();
    const subpage = spf ? list[pos + 1]! : 0;
    const length = spf ? list.readUInt16BE(pos + 2) + 4 : list[pos + 1]! + 2;
    if (pos + length > list.length) return lengthError();
    const def = MODE_PAGES.find((d) => d.code === code && d.subpage === subpage);
    if (!def) return paramError(pos, 5);
    if (length !== def.length) return paramError(spf ? pos + 2 : pos + 1);
    const page = list.subarray(pos, pos + length);
    const current = def.build(lu, PageControl.CURRENT);
    const changeable = def.build(lu, PageControl.CHANGEABLE);
    for (let i = spf ? 4 : 2; i < length; i++) {
      const fixed = (page[i]! ^ current[i]!) & ~changeable[i]!;
      if (fixed !== 0) return paramError(pos + i, 31 - Math.clz32(fixed));
    }
    pending.push({ def, page });
    pos += length;
  }
  return pending;
}

/**
 * MODE SELECT(6/10) (SPC-4 6.9, 6.10). Changeable: control page D_SENSE, SWP, TAS; caching
 * page WCE. No saved pages, so SP = 1 is refused; only the page format (PF = 1) is accepted.
 * A change establishes MODE PARAMETERS CHANGED for every other I_T nexus (SPC-4 7.5.1): the
 * pages are shared by all of them, on every node (LogicalUnit.changeMode).
 */
function modeSelectRow(name: string, opcode: number, u: number[]): OpcodeRow<ModeSelectCdb> {
  const ten = u.length === 10;
  return defineRow<ModeSelectCdb>({
    name,
    opcode,
    cdbLength: u.length,
    usage: u,
    direction: 'out',
    parse(cdb) {
      if ((cdb[1]! & 0x01) !== 0) return invalidField(1, 0);
      const dataOutLength = ten ? cdb.readUInt16BE(7) : cdb[4]!;
      if (dataOutLength > 0 && (cdb[1]! & 0x10) === 0) return invalidField(1, 4);
      return { ten, dataOutLength };
    },
    async execute(ctx, p) {
      // SPC-4 6.9: a PARAMETER LIST LENGTH of zero transfers nothing and is not an error.
      if (p.dataOutLength === 0) return undefined;
      const lu = ctx.lu!;
      const pending = checkModeParameters(lu, ctx.dataOut, p.ten);
      if (!Array.isArray(pending)) return pending;
      const next: ModeState = { ...lu.mode };
      for (const { def, page } of pending) def.apply?.(next, page);
      if (sameMode(next, lu.mode)) return undefined;
      try {
        // Cluster state (issue 14, finding 6): saved where every node reads it, then in force.
        await lu.changeMode(next, ctx.cmd.nexus.id);
      } catch {
        // Not saved, so not changed anywhere it counts: the initiator retries the same list.
        return reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION');
      }
      return undefined;
    },
  });
}

// Byte 1: PF, SP.
export const modeSelect6 = modeSelectRow(
  'MODE SELECT(6)',
  Opcode.MODE_SELECT_6,
  usage(0x11, 0x00, 0x00, 0xff, 0x00),
);
export const modeSelect10 = modeSelectRow(
  'MODE SELECT(10)',
  Opcode.MODE_SELECT_10,
  usage(0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00),
);
