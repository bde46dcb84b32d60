import { invalidField, usage } from '../cdb.js';
import type { LuView } from '../lu-view.js';
import { defineRow } from '../opcode-table.js';
import { reason } from '../sense-reason.js';
import { Opcode } from '../spec/opcodes.js';
import { ModePage } from '../spec/vpd.js';
import { MODE_PAGES, PageControl, type PageControlCode } from './mode-pages.js';

interface ModeSenseCdb {
  ten: boolean;
  dbd: boolean;
  llbaa: boolean;
  pc: PageControlCode;
  page: number;
  subpage: number;
  allocationLength: number;
}

function parseModeSense(cdb: Buffer, ten: boolean): ModeSenseCdb | ReturnType<typeof invalidField> {
  const pc = (cdb[2]! >> 6) as PageControlCode;
  const page = cdb[2]! & 0x3f;
  const subpage = cdb[3]!;
  // SPC-4 6.11: no saved values. The current ones are cluster state (they outlive a restart or
  // a failover, issue 14 finding 6); there is no second, saved set to report.
  if (pc === PageControl.SAVED) return reason('SAVING_PARAMETERS_NOT_SUPPORTED');
  if (subpage !== 0x00 && subpage !== 0xff) return invalidField(3);
  if (page !== ModePage.ALL_PAGES && !MODE_PAGES.some((p) => p.code === page)) return invalidField(2);
  return {
    ten,
    dbd: (cdb[1]! & 0x08) !== 0,
    llbaa: ten && (cdb[1]! & 0x10) !== 0,
    pc,
    page,
    subpage,
    allocationLength: ten ? cdb.readUInt16BE(7) : cdb[4]!,
  };
}

function blockDescriptor(lu: LuView, long: boolean): Buffer {
  if (long) {
    const b = Buffer.alloc(16);
    b.writeUInt32BE(Math.floor(lu.blocks / 0x100000000), 0);
    b.writeUInt32BE(lu.blocks >>> 0, 4);
    b.writeUInt32BE(lu.blockSize, 12);
    return b;
  }
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.min(lu.blocks, 0xffffffff), 0);
  b.writeUInt32BE(lu.blockSize & 0xffffff, 4); // byte 4 reserved, bytes 5-7 block length
  return b;
}

function executeModeSense(lu: LuView, p: ModeSenseCdb): Buffer {
  const pages = MODE_PAGES.filter((d) => p.page === ModePage.ALL_PAGES || d.code === p.page).map((d) =>
    d.build(lu, p.pc),
  );
  const desc = p.dbd ? Buffer.alloc(0) : blockDescriptor(lu, p.llbaa);
  // Device-specific parameter (SBC-3 6.4.1): WP, DPOFUA.
  const devSpecific = (lu.writeProtected ? 0x80 : 0x00) | 0x10;
  const body = Buffer.concat([desc, ...pages]);
  if (p.ten) {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(6 + body.length, 0);
    h[3] = devSpecific;
    h[4] = p.llbaa && desc.length === 16 ? 0x01 : 0x00; // LONGLBA
    h.writeUInt16BE(desc.length, 6);
    return Buffer.concat([h, body]);
  }
  const h = Buffer.alloc(4);
  h[0] = Math.min(0xff, 3 + body.length);
  h[2] = devSpecific;
  h[3] = desc.length;
  return Buffer.concat([h, body]);
}

export const modeSense6 = defineRow<ModeSenseCdb>({
  name: 'MODE SENSE(6)',
  opcode: Opcode.MODE_SENSE_6,
  cdbLength: 6,
  usage: usage(0x08, 0xff, 0xff, 0xff, 0x00),
  direction: 'in',
  parse: (cdb) => parseModeSense(cdb, false),
  execute: (ctx, p) => ({ data: executeModeSense(ctx.lu!, p) }),
});

export const modeSense10 = defineRow<ModeSenseCdb>({
  name: 'MODE SENSE(10)',
  opcode: Opcode.MODE_SENSE_10,
  cdbLength: 10,
  usage: usage(0x18, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00),
  direction: 'in',
  parse: (cdb) => parseModeSense(cdb, true),
  execute: (ctx, p) => ({ data: executeModeSense(ctx.lu!, p) }),
});
