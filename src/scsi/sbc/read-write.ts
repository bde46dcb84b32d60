import { checkRange, groupLength, invalidField, type LbaRange, lbaRange, usage } from '../cdb.js';
import { maxTransferBlocks } from '../limits.js';
import type { LuView } from '../lu-view.js';
import type { Medium } from '../medium.js';
import { defineRow, type OpcodeRow, type ParsedCdb } from '../opcode-table.js';
import type { SenseReason } from '../sense-reason.js';
import { RwCdbByte1 } from '../spec/cdb.js';
import { Opcode } from '../spec/opcodes.js';
import { readDataIn } from './medium.js';

export interface RwCdb extends ParsedCdb {
  readonly lba: number;
  readonly blocks: number;
  readonly fua: boolean;
}

/**
 * Shared decode of READ/WRITE(6/10/12/16) (SBC-3 5.8–5.11, 5.32–5.35): protection fields must
 * be zero (no protection information), the range must fit the medium and one transfer.
 */
function parseRw(cdb: Buffer, lu: LuView | undefined, write: boolean): RwCdb | SenseReason {
  const six = cdb[0] === Opcode.READ_6 || cdb[0] === Opcode.WRITE_6;
  let { lba, blocks } = lbaRange(cdb);
  // SBC-3 5.8: in READ(6)/WRITE(6) a TRANSFER LENGTH of zero means 256 blocks.
  if (six && blocks === 0) blocks = 256;
  // RDPROTECT/WRPROTECT: this LU has no protection information (SBC-3 4.22).
  if (!six && (cdb[1]! & RwCdbByte1.PROTECT_MASK) !== 0) return invalidField(1, 7);
  const fua = !six && (cdb[1]! & RwCdbByte1.FUA) !== 0;
  const out = checkRange(lu!, lba, blocks);
  if (out) return out;
  if (blocks > maxTransferBlocks(lu!.blockSize)) return invalidField(transferLengthField(cdb[0]!));
  const bytes = blocks * lu!.blockSize;
  return write ? { lba, blocks, fua, dataOutLength: bytes } : { lba, blocks, fua };
}

/** Byte offset of TRANSFER LENGTH by CDB size (SBC-3 5.8–5.11): the field pointer of a too-long transfer. */
export function transferLengthField(opcode: number): number {
  const len = groupLength(opcode);
  return len === 6 ? 4 : len === 10 ? 7 : len === 12 ? 6 : 10;
}

/** Writes only the whole blocks that fit in `bytes`; a partial block cannot be written. */
export function truncateRw(p: RwCdb, bytes: number, lu: LuView): RwCdb | undefined {
  if (bytes % lu.blockSize !== 0) return undefined;
  const blocks = bytes / lu.blockSize;
  return { ...p, blocks, dataOutLength: bytes };
}

function executeRead(lu: LuView, p: RwCdb): Promise<{ data: Buffer; release?: () => void }> {
  if (p.blocks === 0) return Promise.resolve({ data: Buffer.alloc(0) });
  // Once sent, the transport's release() lets the pool hand the buffer to the next READ.
  return readDataIn(lu, p.lba, p.blocks);
}

/**
 * The gate holds the range lock over [lba, +blocks) (the row's `writes`, rule 5). `data` is the
 * transport's (its DataOut gives it back after this command's completion).
 */
async function executeWrite(medium: Medium, p: RwCdb, data: Buffer): Promise<undefined> {
  if (p.blocks === 0) return undefined;
  await medium.write(p.lba, data, p.fua);
  return undefined;
}

/** The range a command with an LBA and a block count writes (the opcode rows' `writes`). */
export function lockedRange(p: { readonly lba: number; readonly blocks: number }): LbaRange {
  return { lba: p.lba, blocks: p.blocks };
}

function readRow(name: string, opcode: number, u: number[]): OpcodeRow<RwCdb> {
  return defineRow<RwCdb>({
    name,
    opcode,
    cdbLength: u.length,
    usage: u,
    direction: 'in',
    parse: (cdb, lu) => parseRw(cdb, lu, false),
    execute: (ctx, p) => executeRead(ctx.lu!, p),
  });
}

function writeRow(name: string, opcode: number, u: number[]): OpcodeRow<RwCdb> {
  return defineRow<RwCdb>({
    name,
    opcode,
    cdbLength: u.length,
    usage: u,
    direction: 'out',
    writesMedium: true,
    writes: lockedRange,
    parse: (cdb, lu) => parseRw(cdb, lu, true),
    truncateDataOut: truncateRw,
    execute: (ctx, p) => executeWrite(ctx.medium, p, ctx.dataOut),
  });
}

// Usage masks: byte 1 = RDPROTECT/WRPROTECT (checked in parse), DPO, FUA; GROUP NUMBER kept.
const U6 = usage(0x1f, 0xff, 0xff, 0xff, 0x00);
const U10 = usage(0xfa, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0x00);
const U12 = usage(0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00);
const U16 = usage(0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0x00);

export const read6 = readRow('READ(6)', Opcode.READ_6, U6);
export const read10 = readRow('READ(10)', Opcode.READ_10, U10);
export const read12 = readRow('READ(12)', Opcode.READ_12, U12);
export const read16 = readRow('READ(16)', Opcode.READ_16, U16);
export const write6 = writeRow('WRITE(6)', Opcode.WRITE_6, U6);
export const write10 = writeRow('WRITE(10)', Opcode.WRITE_10, U10);
export const write12 = writeRow('WRITE(12)', Opcode.WRITE_12, U12);
export const write16 = writeRow('WRITE(16)', Opcode.WRITE_16, U16);

export { executeWrite, parseRw };
