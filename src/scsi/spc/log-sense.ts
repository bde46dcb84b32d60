import { invalidField, usage } from '../cdb.js';
import type { LuView } from '../lu-view.js';
import { defineRow } from '../opcode-table.js';
import { Opcode } from '../spec/opcodes.js';

/**
 * LOG SENSE (SPC-4 6.6): the pages a virtual disk can answer truthfully. Initiators mostly ask
 * for the supported pages (00h, 00h/FFh) to find out what exists; smartctl and array tools then
 * read Informational Exceptions (2Fh) for the health verdict. There are no error counters to
 * report (an I/O error reaches the initiator as sense data at once) and no temperature, so
 * those pages are not offered. Nothing is saved, hence SP = 1 is refused and there is no LOG
 * SELECT to reset anything.
 */

/** Log page codes (SPC-4 7.3). */
export const LogPage = {
  SUPPORTED_PAGES: 0x00,
  INFORMATIONAL_EXCEPTIONS: 0x2f,
} as const;
const SUBPAGE_ALL = 0xff;

interface LogParameter {
  readonly code: number;
  /** Control byte (SPC-4 7.3.2.2.2): DU, TSD, ETC, TMC, FORMAT AND LINKING. */
  readonly control: number;
  readonly value: Buffer;
}

interface LogPageDef {
  readonly page: number;
  readonly subpage: number;
  /** Parameters in ascending parameter-code order; undefined: a list page (no parameters). */
  parameters?(lu: LuView): LogParameter[];
}

/** FORMAT AND LINKING 11b: binary format list; TSD: the device server does not save it. */
const BINARY_LIST = 0x20 | 0x03;

const PAGES: readonly LogPageDef[] = [
  { page: LogPage.SUPPORTED_PAGES, subpage: 0x00 },
  { page: LogPage.SUPPORTED_PAGES, subpage: SUBPAGE_ALL },
  {
    page: LogPage.INFORMATIONAL_EXCEPTIONS,
    subpage: 0x00,
    // SPC-4 7.3.8: parameter 0000h — no exception pending (ASC/ASCQ 00h), temperature unknown.
    parameters: () => [{ code: 0x0000, control: BINARY_LIST, value: Buffer.from([0x00, 0x00, 0xff]) }],
  },
];

function logPage(page: number, subpage: number, body: Buffer): Buffer {
  const b = Buffer.alloc(4 + body.length);
  // DS: nothing is saved (SPC-4 7.3.2.1); SPF marks a subpage.
  b[0] = 0x80 | (subpage !== 0 ? 0x40 : 0) | page;
  b[1] = subpage;
  b.writeUInt16BE(body.length, 2);
  body.copy(b, 4);
  return b;
}

function encodeParameters(params: LogParameter[]): Buffer {
  return Buffer.concat(
    params.map((p) => {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(p.code, 0);
      h[2] = p.control;
      h[3] = p.value.length;
      return Buffer.concat([h, p.value]);
    }),
  );
}

interface LogSenseCdb {
  pageCode: number;
  subpage: number;
  parameterPointer: number;
  allocationLength: number;
}

export const logSense = defineRow<LogSenseCdb>({
  name: 'LOG SENSE',
  opcode: Opcode.LOG_SENSE,
  cdbLength: 10,
  // Byte 1: SP (examined, refused); PPC is obsolete in SPC-4. Byte 2: PC and PAGE CODE.
  usage: usage(0x01, 0xff, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00),
  direction: 'in',
  timeout: { nominal: 1, recommended: 10 },
  parse(cdb) {
    if ((cdb[1]! & 0x01) !== 0) return invalidField(1, 0);
    // PC (byte 2 bits 7-6): threshold or cumulative, current or default — all alike here,
    // since the one parameter we report is a state, not a counter.
    const pageCode = cdb[2]! & 0x3f;
    const subpage = cdb[3]!;
    if (!PAGES.some((d) => d.page === pageCode && d.subpage === subpage)) return invalidField(2, 5);
    return {
      pageCode,
      subpage,
      parameterPointer: cdb.readUInt16BE(5),
      allocationLength: cdb.readUInt16BE(7),
    };
  },
  execute(ctx, p) {
    const def = PAGES.find((d) => d.page === p.pageCode && d.subpage === p.subpage)!;
    if (!def.parameters) {
      // SPC-4 7.3.4: the supported pages lists carry no parameters, so no parameter pointer.
      if (p.parameterPointer !== 0) return invalidField(5);
      const list =
        p.subpage === SUBPAGE_ALL
          ? Buffer.from(PAGES.flatMap((d) => [d.page, d.subpage]))
          : Buffer.from([...new Set(PAGES.map((d) => d.page))]);
      return { data: logPage(p.pageCode, p.subpage, list) };
    }
    // SPC-4 6.6: parameters from PARAMETER POINTER on; a pointer past the last is an error.
    const all = def.parameters(ctx.lu!);
    const from = all.filter((x) => x.code >= p.parameterPointer);
    if (from.length === 0) return invalidField(5);
    return { data: logPage(p.pageCode, p.subpage, encodeParameters(from)) };
  },
});
