// REPORT LUNS (SPC-4 6.33; SAM-5 4.6 LUN formats).
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb, Loopback } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

function lunList(d: Buffer): Buffer[] {
  const n = d.readUInt32BE(0);
  expect(n % 8).toBe(0);
  const out: Buffer[] = [];
  for (let off = 8; off < 8 + n && off < d.length; off += 8) out.push(d.subarray(off, off + 8));
  return out;
}

describe('REPORT LUNS', () => {
  let lo: Loopback;
  beforeEach(async () => {
    lo = new Loopback();
    lo.addLun(300);
    lo.addLun(7);
    await lo.ready();
  });

  it.each(Array.from({ length: 16 }, (_, n) => n))(
    'ALLOCATION LENGTH %i (< 16) → INVALID FIELD IN CDB pointing at byte 6',
    async (alloc) => {
      const c = await lo.run({ cdb: cdb.reportLuns(alloc) });
      expect(kcq(c)).toBe('05/24/00');
      expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte: 6 });
      expect(c.data).toBeUndefined();
    },
  );

  it('SELECT REPORT 00h: every LUN ascending; peripheral below 256, flat space above', async () => {
    const d = (await lo.run({ cdb: cdb.reportLuns(4096, 0x00) })).data!;
    expect(d.readUInt32BE(4)).toBe(0); // reserved
    expect(lunList(d).map((b) => b.toString('hex'))).toEqual([
      '0000000000000000',
      '0007000000000000',
      '412c000000000000', // 300 = 0x12c, flat space addressing 01b
    ]);
  });

  it('SELECT REPORT 02h reports the same LUNs as 00h', async () => {
    const a = (await lo.run({ cdb: cdb.reportLuns(4096, 0x00) })).data!;
    const b = (await lo.run({ cdb: cdb.reportLuns(4096, 0x02) })).data!;
    expect(b.equals(a)).toBe(true);
  });

  it.each([0x01, 0x10, 0x11, 0x12])(
    'SELECT REPORT %i: no well known / administrative LUs → empty list',
    async (sel) => {
      const c = await lo.run({ cdb: cdb.reportLuns(4096, sel) });
      expect(c.status).toBe(Status.GOOD);
      expect(c.data!.readUInt32BE(0)).toBe(0);
      expect(c.data!.length).toBe(8);
    },
  );

  it.each([0x03, 0x0f, 0x13, 0x80, 0xff])(
    'SELECT REPORT %i → INVALID FIELD IN CDB at byte 2',
    async (sel) => {
      const c = await lo.run({ cdb: cdb.reportLuns(4096, sel) });
      expect(kcq(c)).toBe('05/24/00');
      expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte: 2 });
    },
  );

  it('LUN LIST LENGTH stays the full length when the data is truncated', async () => {
    const c = await lo.run({ cdb: cdb.reportLuns(16) });
    expect(c.data!.length).toBe(16);
    expect(c.data!.readUInt32BE(0)).toBe(24);
  });

  it('a reserved bit (byte 3) → INVALID FIELD IN CDB with field pointer', async () => {
    const b = cdb.reportLuns(64);
    b[3] = 0x20;
    const c = await lo.run({ cdb: b });
    expect(kcq(c)).toBe('05/24/00');
    expect(decodeSense(c.sense!).field).toEqual({ inCdb: true, byte: 3, bit: 5 });
  });
});
