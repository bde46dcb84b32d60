// MODE SENSE(6) and MODE SENSE(10) (SPC-4 6.11, 6.12; SBC-3 6.4): headers, block descriptors,
// page selection and page control.
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb, Loopback } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

const BLOCKS = 2048;
const BS = 512;
/** Pages every Tandem LU reports (SPC-4 7.5, SBC-3 6.4); more may be added. */
const CORE_PAGES = [0x01, 0x08, 0x0a, 0x1c];

/** Page 3Fh lists the core pages, each once, in ascending page code order. */
function expectAllPages(order: number[]): void {
  expect(order.filter((c) => CORE_PAGES.includes(c))).toEqual(CORE_PAGES);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  expect(new Set(order).size).toBe(order.length);
}

interface Parsed {
  mediumType: number;
  devSpecific: number;
  longLba: boolean;
  descriptors: Buffer;
  pages: Map<number, Buffer>;
  order: number[];
}

/** Splits a MODE SENSE answer into header fields, block descriptors and pages. */
function parse(d: Buffer, ten: boolean): Parsed {
  const total = ten ? d.readUInt16BE(0) + 2 : d[0]! + 1;
  expect(total).toBe(d.length);
  const hlen = ten ? 8 : 4;
  const bdl = ten ? d.readUInt16BE(6) : d[3]!;
  const pages = new Map<number, Buffer>();
  const order: number[] = [];
  for (let off = hlen + bdl; off < d.length; ) {
    const code = d[off]! & 0x3f;
    expect(d[off]! & 0x40).toBe(0); // SPF: no subpage format pages
    const len = d[off + 1]! + 2;
    pages.set(code, d.subarray(off, off + len));
    order.push(code);
    off += len;
  }
  return {
    mediumType: ten ? d[2]! : d[1]!,
    devSpecific: ten ? d[3]! : d[2]!,
    longLba: ten && (d[4]! & 0x01) !== 0,
    descriptors: d.subarray(hlen, hlen + bdl),
    pages,
    order,
  };
}

describe('MODE SENSE', () => {
  let lo: Loopback;
  beforeEach(async () => {
    lo = new Loopback({ blocks: BLOCKS, blockSize: BS });
    await lo.ready();
  });

  async function sense6(o: Parameters<typeof cdb.modeSense6>[0]) {
    const c = await lo.run({ cdb: cdb.modeSense6(o) });
    expect(c.status, c.sense ? kcq(c) : '').toBe(Status.GOOD);
    return parse(c.data!, false);
  }
  async function sense10(o: Parameters<typeof cdb.modeSense10>[0]) {
    const c = await lo.run({ cdb: cdb.modeSense10(o) });
    expect(c.status, c.sense ? kcq(c) : '').toBe(Status.GOOD);
    return parse(c.data!, true);
  }

  it('(6) page 3Fh: every page, ascending, after one short block descriptor', async () => {
    const p = await sense6({ page: 0x3f });
    expectAllPages(p.order);
    expect(p.descriptors.length).toBe(8);
    expect(p.descriptors.readUInt32BE(0)).toBe(BLOCKS);
    expect(p.descriptors[4]).toBe(0);
    expect(p.descriptors.readUIntBE(5, 3)).toBe(BS);
    expect(p.mediumType).toBe(0);
    expect(p.devSpecific & 0x80).toBe(0); // WP
    expect(p.devSpecific & 0x10).toBe(0x10); // DPOFUA
  });

  it('(10) page 3Fh: the same pages and a short descriptor without LLBAA', async () => {
    const p = await sense10({ page: 0x3f });
    expectAllPages(p.order);
    expect(p.longLba).toBe(false);
    expect(p.descriptors.length).toBe(8);
    expect(p.descriptors.readUInt32BE(0)).toBe(BLOCKS);
  });

  it('(6) and (10) report identical page bytes', async () => {
    const a = await sense6({ page: 0x3f });
    const b = await sense10({ page: 0x3f });
    for (const code of a.order)
      expect(b.pages.get(code)!.equals(a.pages.get(code)!), `page ${code}`).toBe(true);
  });

  it('DBD = 1: no block descriptors in (6) or (10)', async () => {
    const a = await sense6({ page: 0x3f, dbd: true });
    expect(a.descriptors.length).toBe(0);
    expect(a.order.length).toBe(4);
    const b = await sense10({ page: 0x3f, dbd: true, llbaa: true });
    expect(b.descriptors.length).toBe(0);
    expect(b.longLba).toBe(false);
  });

  it('(10) LLBAA = 1: LONGLBA set and one 16-byte descriptor', async () => {
    const p = await sense10({ page: 0x08, llbaa: true });
    expect(p.longLba).toBe(true);
    expect(p.descriptors.length).toBe(16);
    expect(p.descriptors.readBigUInt64BE(0)).toBe(BigInt(BLOCKS));
    expect(p.descriptors.readUInt32BE(8)).toBe(0);
    expect(p.descriptors.readUInt32BE(12)).toBe(BS);
  });

  it('(6) LLBAA does not exist: byte 1 bit 4 is reserved → 05/24/00 with its bit', async () => {
    const b = cdb.modeSense6({ page: 0x3f });
    b[1] = 0x10;
    const c = await lo.run({ cdb: b });
    expect(kcq(c)).toBe('05/24/00');
    expect(decodeSense(c.sense!).field).toEqual({ inCdb: true, byte: 1, bit: 4 });
  });

  it.each([
    ['read-write error recovery', 0x01, 12],
    ['caching', 0x08, 20],
    ['control', 0x0a, 12],
    ['informational exceptions control', 0x1c, 12],
  ])('a single page (%s, %i) is returned alone, with its standard length', async (_n, page, len) => {
    const p = await sense6({ page, dbd: true });
    expect(p.order).toEqual([page]);
    expect(p.pages.get(page)!.length).toBe(len);
    expect(p.pages.get(page)![0]! & 0x80).toBe(0); // PS: not savable
  });

  it('current values: WCE = 1; control page D_SENSE follows lu.mode, QAM 1, TST 0', async () => {
    const cur = await sense6({ page: 0x3f });
    expect(cur.pages.get(0x08)![2]! & 0x04).toBe(0x04);
    const ctl = cur.pages.get(0x0a)!;
    expect(ctl[2]! & 0x04).toBe(0);
    expect(ctl[2]! >> 5).toBe(0);
    expect(ctl[3]! >> 4).toBe(1);
    lo.lu.mode.dSense = true;
    expect((await sense6({ page: 0x0a })).pages.get(0x0a)![2]! & 0x04).toBe(0x04);
  });

  it('PC = changeable (01b): control page D_SENSE, SWP and TAS; caching page at most WCE', async () => {
    const p = await sense6({ page: 0x3f, pc: 1 });
    expectAllPages(p.order);
    const ctl = p.pages.get(0x0a)!;
    expect([ctl[2], ctl[3], ctl[4], ctl[5]]).toEqual([0x04, 0x00, 0x08, 0x40]);
    expect(ctl.subarray(6).every((x) => x === 0)).toBe(true);
    const caching = p.pages.get(0x08)!;
    expect(caching[2]! & ~0x04).toBe(0);
    expect(caching.subarray(3).every((x) => x === 0)).toBe(true);
    for (const code of [0x01, 0x1c]) {
      const page = p.pages.get(code)!;
      expect(
        page.subarray(2).every((x) => x === 0),
        `page ${code}`,
      ).toBe(true);
    }
  });

  it('PC = changeable pages have the same code and length as the current pages', async () => {
    const cur = await sense10({ page: 0x3f, dbd: true });
    const chg = await sense10({ page: 0x3f, dbd: true, pc: 1 });
    expect(chg.order).toEqual(cur.order);
    for (const code of cur.order) {
      expect(chg.pages.get(code)!.subarray(0, 2).equals(cur.pages.get(code)!.subarray(0, 2))).toBe(true);
    }
  });

  it('PC = default (10b): default values regardless of the current ones', async () => {
    lo.lu.mode.dSense = true;
    lo.lu.mode.wce = false;
    const p = await sense6({ page: 0x3f, pc: 2 });
    expect(p.pages.get(0x0a)![2]! & 0x04).toBe(0);
    expect(p.pages.get(0x08)![2]! & 0x04).toBe(0x04);
  });

  it.each([
    ['(6)', (pc: number) => cdb.modeSense6({ page: 0x3f, pc })],
    ['(10)', (pc: number) => cdb.modeSense10({ page: 0x3f, pc })],
  ])('%s PC = saved (11b) → 05/39/00 SAVING PARAMETERS NOT SUPPORTED', async (_n, build) => {
    const c = await lo.run({ cdb: build(3) });
    expect(kcq(c)).toBe('05/39/00');
    expect(c.data).toBeUndefined();
  });

  it('every page code 00h-3Eh that page 3Fh does not list → 05/24/00 pointing at byte 2', async () => {
    const listed = new Set((await sense6({ page: 0x3f, dbd: true })).order);
    const unknown = Array.from({ length: 0x3f }, (_, p) => p).filter((p) => !listed.has(p));
    expect(unknown).toContain(0x00);
    for (const page of unknown) {
      for (const b of [cdb.modeSense6({ page }), cdb.modeSense10({ page })]) {
        const c = await lo.run({ cdb: b });
        expect(kcq(c), `page ${page}`).toBe('05/24/00');
        expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte: 2 });
      }
    }
  });

  it('every page page 3Fh lists can be asked for alone', async () => {
    const all = await sense6({ page: 0x3f, dbd: true });
    for (const page of all.order) {
      const one = await sense6({ page, dbd: true });
      expect(one.order).toEqual([page]);
      expect(one.pages.get(page)!.equals(all.pages.get(page)!)).toBe(true);
    }
  });

  it('a subpage other than 00h/FFh → 05/24/00 pointing at byte 3', async () => {
    const c = await lo.run({ cdb: cdb.modeSense6({ page: 0x0a, subpage: 0x01 }) });
    expect(kcq(c)).toBe('05/24/00');
    expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte: 3 });
  });

  it('subpage FFh (all subpages) with page 3Fh returns the page_0 pages', async () => {
    expectAllPages((await sense6({ page: 0x3f, subpage: 0xff })).order);
  });

  it('a read-only LU sets WP in the device-specific parameter', async () => {
    const ro = new Loopback({ readOnly: true });
    await ro.ready();
    const c = await ro.run({ cdb: cdb.modeSense6({ page: 0x3f }) });
    expect(parse(c.data!, false).devSpecific & 0x80).toBe(0x80);
    const c10 = await ro.run({ cdb: cdb.modeSense10({ page: 0x3f }) });
    expect(parse(c10.data!, true).devSpecific & 0x80).toBe(0x80);
  });

  it('(10) reserved bytes 3-6 other than the subpage: byte 4 set → 05/24/00 at byte 4', async () => {
    const b = cdb.modeSense10({ page: 0x3f });
    b[4] = 0x01;
    const c = await lo.run({ cdb: b });
    expect(decodeSense(c.sense!).field).toEqual({ inCdb: true, byte: 4, bit: 0 });
  });
});
