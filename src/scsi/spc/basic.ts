import { invalidField, usage } from '../cdb.js';
import { defineRow } from '../opcode-table.js';
import { buildSense, reason } from '../sense-reason.js';
import { SelectReport } from '../spec/cdb.js';
import { Opcode } from '../spec/opcodes.js';

export const testUnitReady = defineRow({
  name: 'TEST UNIT READY',
  opcode: Opcode.TEST_UNIT_READY,
  cdbLength: 6,
  usage: usage(0x00, 0x00, 0x00, 0x00, 0x00),
  direction: 'none',
  timeout: { nominal: 1, recommended: 5 },
  parse: () => ({}),
  execute: () => undefined,
});

interface RequestSenseCdb {
  desc: boolean;
  allocationLength: number;
}

/**
 * REQUEST SENSE (SPC-4 6.39): reports — and clears — a pending unit attention, else NO SENSE.
 * On a LUN that does not exist it returns LOGICAL UNIT NOT SUPPORTED as sense data with GOOD.
 */
export const requestSense = defineRow<RequestSenseCdb>({
  name: 'REQUEST SENSE',
  opcode: Opcode.REQUEST_SENSE,
  cdbLength: 6,
  usage: usage(0x01, 0x00, 0x00, 0xff, 0x00),
  direction: 'in',
  noLun: true,
  skipsUnitAttention: true,
  parse: (cdb) => ({ desc: (cdb[1]! & 0x01) !== 0, allocationLength: cdb[4]! }),
  execute(ctx, p) {
    const pending = ctx.lu
      ? ctx.lu.unitAttentions.take(ctx.cmd.nexus.id)
      : reason('LOGICAL_UNIT_NOT_SUPPORTED');
    return { data: buildSense(pending ?? reason('NO_SENSE'), p.desc) };
  },
});

interface ReportLunsCdb {
  select: number;
  allocationLength: number;
}

/** SAM-5 4.6.4: LUNs below 256 use peripheral addressing, larger ones flat addressing. */
export function encodeLun(lun: number): Buffer {
  const b = Buffer.alloc(8);
  if (lun < 256) b[1] = lun;
  else b.writeUInt16BE(0x4000 | (lun & 0x3fff), 0);
  return b;
}

export const reportLuns = defineRow<ReportLunsCdb>({
  name: 'REPORT LUNS',
  opcode: Opcode.REPORT_LUNS,
  cdbLength: 12,
  usage: usage(0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00),
  direction: 'in',
  noLun: true,
  skipsUnitAttention: true,
  parse(cdb) {
    const select = cdb[2]!;
    if (!(Object.values(SelectReport) as number[]).includes(select)) return invalidField(2);
    const allocationLength = cdb.readUInt32BE(6);
    if (allocationLength < 16) return invalidField(6);
    return { select, allocationLength };
  },
  execute(ctx, p) {
    // No well known LUs: select 01h reports an empty list; 10h–12h report nothing either
    // since we expose no administrative LU.
    const all = p.select === SelectReport.ALL_BUT_WELL_KNOWN || p.select === SelectReport.ALL;
    const luns = all ? ctx.target.lunsFor(ctx.cmd) : [];
    const b = Buffer.alloc(8 + 8 * luns.length);
    b.writeUInt32BE(8 * luns.length, 0);
    for (const [i, l] of luns.entries()) encodeLun(l).copy(b, 8 + 8 * i);
    return { data: b };
  },
});
