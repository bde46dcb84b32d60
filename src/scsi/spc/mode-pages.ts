import type { LuView, ModeState } from '../lu-view.js';
import { ModePage } from '../spec/vpd.js';

/** Page control field of MODE SENSE (SPC-4 6.11). */
export const PageControl = { CURRENT: 0, CHANGEABLE: 1, DEFAULT: 2, SAVED: 3 } as const;
export type PageControlCode = (typeof PageControl)[keyof typeof PageControl];

/**
 * The mode pages, as data: each builds its bytes for a page control value. MODE SENSE and
 * MODE SELECT both read this list.
 */
export interface ModePageDef {
  readonly code: number;
  readonly subpage: number;
  readonly length: number; // total bytes including the 2-byte header
  build(lu: LuView, pc: PageControlCode): Buffer;
  /**
   * MODE SELECT: takes the changeable fields from `page` into `mode` (already checked: only
   * bits set in the CHANGEABLE page differ from the current page). Absent: nothing is changeable.
   */
  apply?(mode: ModeState, page: Buffer): void;
}

function header(code: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  b[0] = code;
  b[1] = length - 2;
  return b;
}

const caching: ModePageDef = {
  code: ModePage.CACHING,
  subpage: 0,
  length: 20,
  build(lu, pc) {
    const b = header(this.code, this.length);
    // SBC-3 6.4.5: WCE. Writes without FUA complete from the page cache; FUA and
    // SYNCHRONIZE CACHE reach stable storage, so the initiator must flush: WCE = 1. An
    // initiator may turn the cache off: then every write is written through (sbc/medium.ts).
    if (pc === PageControl.CHANGEABLE) {
      b[2] = 0x04;
      return b;
    }
    const wce = pc === PageControl.DEFAULT ? true : lu.mode.wce;
    b[2] = wce ? 0x04 : 0x00;
    return b;
  },
  apply(mode, page) {
    mode.wce = (page[2]! & 0x04) !== 0;
  },
};

const control: ModePageDef = {
  code: ModePage.CONTROL,
  subpage: 0,
  length: 12,
  build(lu, pc) {
    const b = header(this.code, this.length);
    if (pc === PageControl.CHANGEABLE) {
      b[2] = 0x04; // D_SENSE
      b[4] = 0x08; // SWP
      b[5] = 0x40; // TAS
      return b;
    }
    const cur = pc === PageControl.DEFAULT ? { dSense: false, swp: false, tas: false } : lu.mode;
    b[2] = cur.dSense ? 0x04 : 0x00; // TST = 000b (one task set), D_SENSE
    // QUEUE ALGORITHM MODIFIER 1: SIMPLE tasks may be reordered (they run in parallel).
    b[3] = 0x10;
    b[4] = cur.swp ? 0x08 : 0x00; // UA_INTLCK_CTRL = 00b, SWP
    b[5] = cur.tas ? 0x40 : 0x00;
    b.writeUInt16BE(0xffff, 8); // BUSY TIMEOUT PERIOD: unlimited
    return b;
  },
  apply(mode, page) {
    mode.dSense = (page[2]! & 0x04) !== 0;
    mode.swp = (page[4]! & 0x08) !== 0;
    mode.tas = (page[5]! & 0x40) !== 0;
  },
};

const informationalExceptions: ModePageDef = {
  code: ModePage.INFORMATIONAL_EXCEPTIONS_CONTROL,
  subpage: 0,
  length: 12,
  build() {
    // MRIE = 0: no informational exception reporting.
    return header(this.code, this.length);
  },
};

const readWriteErrorRecovery: ModePageDef = {
  code: ModePage.READ_WRITE_ERROR_RECOVERY,
  subpage: 0,
  length: 12,
  build() {
    return header(this.code, this.length);
  },
};

export const MODE_PAGES: readonly ModePageDef[] = [
  readWriteErrorRecovery,
  caching,
  control,
  informationalExceptions,
];
