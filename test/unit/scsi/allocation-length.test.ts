// Every ALLOCATION LENGTH 0-255 (SPC-4 4.2.5.6): the device server returns exactly
// min(allocation length, available data) bytes — the same bytes as the untruncated answer —
// and never more. The transfer length the transport sees is that same number.
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb, Loopback } from '../../helpers/loopback.js';
import { Status } from '../../helpers/wire.js';

const ALLOCS = Array.from({ length: 256 }, (_, n) => n);
/** The pages every Tandem LU must offer (SPC-4 7.8, SBC-3 6.6); more may follow. */
const CORE_VPD_PAGES = [0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2];
/** Every page the Supported VPD Pages page lists: each is swept. */
const VPD_PAGES = await (async () => {
  const lo = new Loopback();
  const p0 = (await lo.run({ cdb: cdb.inquiry(0xffff, 0x00) })).data!;
  return [...p0.subarray(4, 4 + p0.readUInt16BE(2))];
})();

async function sweep(lo: Loopback, build: (alloc: number) => Buffer, full: Buffer): Promise<void> {
  for (const alloc of ALLOCS) {
    const c = await lo.run({ cdb: build(alloc) });
    expect(c.status, `alloc ${alloc}`).toBe(Status.GOOD);
    const want = Math.min(alloc, full.length);
    expect(c.data?.length ?? 0, `alloc ${alloc}`).toBe(want);
    expect(c.transferLength, `alloc ${alloc}`).toBe(want);
    if (want > 0) expect(c.data!.equals(full.subarray(0, want)), `alloc ${alloc}`).toBe(true);
  }
}

describe('allocation length 0-255', () => {
  let lo: Loopback;
  beforeEach(async () => {
    lo = new Loopback();
    await lo.ready();
  });

  it('standard INQUIRY', async () => {
    const full = (await lo.run({ cdb: cdb.inquiry(0xffff) })).data!;
    // Additional length (byte 4) describes the whole answer.
    expect(full.length).toBe(full[4]! + 5);
    expect(full.length).toBeGreaterThanOrEqual(36);
    await sweep(lo, (a) => cdb.inquiry(a), full);
  });

  it('the Supported VPD Pages page lists the core pages, ascending, without repeats', () => {
    expect(VPD_PAGES.filter((p) => CORE_VPD_PAGES.includes(p))).toEqual(CORE_VPD_PAGES);
    expect([...VPD_PAGES].sort((a, b) => a - b)).toEqual(VPD_PAGES);
    expect(new Set(VPD_PAGES).size).toBe(VPD_PAGES.length);
  });

  it.each(VPD_PAGES.map((p) => [`0x${p.toString(16).padStart(2, '0')}`, p]))(
    'INQUIRY VPD page %s',
    async (_h, page) => {
      const full = (await lo.run({ cdb: cdb.inquiry(0xffff, page) })).data!;
      expect(full[1]).toBe(page);
      expect(full.length).toBe(4 + full.readUInt16BE(2));
      await sweep(lo, (a) => cdb.inquiry(a, page), full);
    },
  );

  it('INQUIRY ALLOCATION LENGTH is 16 bits: byte 3 counts', async () => {
    const b = cdb.inquiry(0);
    b[3] = 0x01; // 256
    const c = await lo.run({ cdb: b });
    expect(c.data!.length).toBe(Math.min(256, c.data![4]! + 5));
    expect(c.data!.length).toBeGreaterThan(0);
  });

  it('REQUEST SENSE, fixed format (NO SENSE, 18 bytes)', async () => {
    const full = (await lo.run({ cdb: cdb.requestSense(255) })).data!;
    expect(full.length).toBe(18);
    expect(full[0]! & 0x7f).toBe(0x70);
    await sweep(lo, (a) => cdb.requestSense(a), full);
  });

  it('REQUEST SENSE, descriptor format (DESC=1)', async () => {
    const full = (await lo.run({ cdb: cdb.requestSense(255, true) })).data!;
    expect(full[0]! & 0x7f).toBe(0x72);
    expect(full.length).toBe(8 + full[7]!);
    await sweep(lo, (a) => cdb.requestSense(a, true), full);
  });

  it('REQUEST SENSE reporting a unit attention is truncated too', async () => {
    for (const alloc of ALLOCS) {
      // A LUN reset gives this nexus a fresh UA to report every time round.
      await lo.tmf(5);
      const c = await lo.run({ cdb: cdb.requestSense(alloc) });
      expect(c.status).toBe(Status.GOOD);
      expect(c.data!.length, `alloc ${alloc}`).toBe(Math.min(alloc, 18));
      if (alloc >= 14) expect([c.data![2]! & 0x0f, c.data![12], c.data![13]]).toEqual([0x06, 0x29, 0x03]);
    }
  });

  const MODE_CASES: Array<[string, { page: number; dbd?: boolean; pc?: number }]> = [
    ['all pages', { page: 0x3f }],
    ['all pages, DBD', { page: 0x3f, dbd: true }],
    ['caching page', { page: 0x08 }],
    ['control page, DBD', { page: 0x0a, dbd: true }],
    ['all pages, changeable', { page: 0x3f, pc: 1 }],
    ['all pages, default', { page: 0x3f, pc: 2 }],
  ];
  it.each(MODE_CASES)('MODE SENSE(6), %s', async (_n, o) => {
    const full = (await lo.run({ cdb: cdb.modeSense6({ ...o, alloc: 255 }) })).data!;
    // MODE DATA LENGTH excludes itself (one byte): it describes the whole answer.
    expect(full.length).toBe(full[0]! + 1);
    expect(full.length).toBeLessThan(255);
    await sweep(lo, (alloc) => cdb.modeSense6({ ...o, alloc }), full);
  });

  it('MODE SENSE(10), all pages with long LBA descriptor', async () => {
    const o = { page: 0x3f, llbaa: true };
    const full = (await lo.run({ cdb: cdb.modeSense10({ ...o, alloc: 0xffff }) })).data!;
    expect(full.length).toBe(full.readUInt16BE(0) + 2);
    await sweep(lo, (alloc) => cdb.modeSense10({ ...o, alloc }), full);
  });

  it('REPORT LUNS with ALLOCATION LENGTH 16-255', async () => {
    lo.addLun(1);
    lo.addLun(2);
    await lo.run({ cdb: cdb.testUnitReady() }); // REPORTED LUNS DATA HAS CHANGED
    const full = (await lo.run({ cdb: cdb.reportLuns(0xffff) })).data!;
    expect(full.length).toBe(8 + 3 * 8);
    for (const alloc of ALLOCS.filter((a) => a >= 16)) {
      const c = await lo.run({ cdb: cdb.reportLuns(alloc) });
      const want = Math.min(alloc, full.length);
      expect(c.data!.length, `alloc ${alloc}`).toBe(want);
      expect(c.data!.equals(full.subarray(0, want))).toBe(true);
    }
  });

  it('READ CAPACITY(16) ALLOCATION LENGTH 0-255', async () => {
    const full = (await lo.run({ cdb: cdb.readCapacity16(0xffff) })).data!;
    expect(full.length).toBe(32);
    await sweep(lo, (a) => cdb.readCapacity16(a), full);
  });
});
