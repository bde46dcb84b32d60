// LOG SENSE (SPC-4 6.6, 7.3): the supported pages lists, Informational Exceptions, and the CDB
// checks (SP, unknown page, parameter pointer), with every allocation length 0-255.
import { beforeEach, describe, expect, it } from 'vitest';
import { Loopback } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

function logSense(o: {
  page: number;
  subpage?: number;
  pc?: number;
  sp?: boolean;
  pointer?: number;
  alloc?: number;
}): Buffer {
  const b = Buffer.alloc(10);
  b[0] = 0x4d;
  b[1] = o.sp ? 0x01 : 0;
  b[2] = ((o.pc ?? 1) << 6) | o.page;
  b[3] = o.subpage ?? 0;
  b.writeUInt16BE(o.pointer ?? 0, 5);
  b.writeUInt16BE(o.alloc ?? 0xffff, 7);
  return b;
}

describe('LOG SENSE', () => {
  let lo: Loopback;
  beforeEach(async () => {
    lo = new Loopback();
    await lo.ready();
  });

  it('page 00h lists the supported pages, each of which can be read', async () => {
    const d = (await lo.run({ cdb: logSense({ page: 0x00 }) })).data!;
    expect(d[0]! & 0x3f).toBe(0x00);
    expect(d[0]! & 0x40).toBe(0); // SPF clear
    const pages = [...d.subarray(4, 4 + d.readUInt16BE(2))];
    expect(pages).toEqual([0x00, 0x2f]);
    for (const page of pages) {
      for (const pc of [0, 1, 2, 3]) {
        const c = await lo.run({ cdb: logSense({ page, pc }) });
        expect(c.status, `page ${page} pc ${pc}`).toBe(Status.GOOD);
        expect(c.data![0]! & 0x3f).toBe(page);
        expect(c.data!.length).toBe(4 + c.data!.readUInt16BE(2));
      }
    }
  });

  it('page 00h subpage FFh lists page/subpage pairs, SPF set', async () => {
    const d = (await lo.run({ cdb: logSense({ page: 0x00, subpage: 0xff }) })).data!;
    expect(d[0]! & 0x40).toBe(0x40);
    expect(d[1]).toBe(0xff);
    expect([...d.subarray(4, 4 + d.readUInt16BE(2))]).toEqual([0x00, 0x00, 0x00, 0xff, 0x2f, 0x00]);
  });

  it('Informational Exceptions: parameter 0000h, no exception pending', async () => {
    const d = (await lo.run({ cdb: logSense({ page: 0x2f }) })).data!;
    expect(d.readUInt16BE(2)).toBe(7);
    expect(d.readUInt16BE(4)).toBe(0x0000);
    expect(d[6]! & 0x03).toBe(0x03); // binary format list
    expect(d[7]).toBe(3);
    expect([d[8], d[9]]).toEqual([0x00, 0x00]); // ASC, ASCQ
  });

  it('SP, unknown pages and subpages, pointers past the last parameter: INVALID FIELD IN CDB', async () => {
    const cases: Array<[Buffer, number]> = [
      [logSense({ page: 0x00, sp: true }), 1],
      [logSense({ page: 0x0d }), 2],
      [logSense({ page: 0x2f, subpage: 0x01 }), 2],
      [logSense({ page: 0x00, pointer: 1 }), 5],
      [logSense({ page: 0x2f, pointer: 1 }), 5],
    ];
    for (const [cdb, byte] of cases) {
      const c = await lo.run({ cdb });
      expect(kcq(c)).toBe('05/24/00');
      expect(decodeSense(c.sense!).field?.byte).toBe(byte);
    }
  });

  it('every allocation length 0-255 returns that prefix of each page', async () => {
    for (const [page, subpage] of [
      [0x00, 0x00],
      [0x00, 0xff],
      [0x2f, 0x00],
    ] as const) {
      const full = (await lo.run({ cdb: logSense({ page, subpage }) })).data!;
      for (let alloc = 0; alloc < 256; alloc++) {
        const c = await lo.run({ cdb: logSense({ page, subpage, alloc }) });
        const want = Math.min(alloc, full.length);
        expect(c.data?.length ?? 0).toBe(want);
        if (want) expect(c.data!.equals(full.subarray(0, want))).toBe(true);
      }
    }
  });
});
