// INQUIRY (SPC-4 6.6): standard data, VPD pages, and the answer for a LUN with no LU.
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb, Loopback, makeNexus, targetPort } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

describe('INQUIRY', () => {
  let lo: Loopback;
  beforeEach(async () => {
    lo = new Loopback();
    await lo.ready();
  });

  it('standard data: direct-access device, SPC-4, HISUP, format 2, CMDQUE, ASCII identity', async () => {
    const d = (await lo.run({ cdb: cdb.inquiry(96) })).data!;
    expect(d[0]).toBe(0x00); // PQ 000b, type 00h
    expect(d[2]).toBe(0x06);
    expect(d[3]! & 0x0f).toBe(0x02);
    expect(d[3]! & 0x10).toBe(0x10);
    expect(d[7]! & 0x02).toBe(0x02);
    for (const [from, to] of [
      [8, 16],
      [16, 32],
      [32, 36],
    ]) {
      expect(d.toString('latin1', from, to)).toMatch(/^[\x20-\x7e]+$/);
    }
  });

  it('EVPD=0 with a non-zero PAGE CODE is INVALID FIELD IN CDB at byte 2', async () => {
    const b = cdb.inquiry(96);
    b[2] = 0x80;
    const c = await lo.run({ cdb: b });
    expect(kcq(c)).toBe('05/24/00');
    expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte: 2 });
  });

  it('a VPD page missing from the Supported VPD Pages page is INVALID FIELD IN CDB at byte 2', async () => {
    const p0 = (await lo.run({ cdb: cdb.inquiry(0xffff, 0x00) })).data!;
    const listed = new Set(p0.subarray(4, 4 + p0.readUInt16BE(2)));
    const unlisted = Array.from({ length: 256 }, (_, p) => p).filter((p) => !listed.has(p));
    expect(unlisted.length).toBeGreaterThan(200);
    for (const page of unlisted) {
      const c = await lo.run({ cdb: cdb.inquiry(255, page) });
      expect(kcq(c), `page ${page}`).toBe('05/24/00');
      expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte: 2 });
    }
  });

  it('CMDDT (obsolete, byte 1 bit 1) set is INVALID FIELD IN CDB with the bit pointer', async () => {
    const b = cdb.inquiry(96);
    b[1] = 0x02;
    const c = await lo.run({ cdb: b });
    expect(kcq(c)).toBe('05/24/00');
    expect(decodeSense(c.sense!).field).toEqual({ inCdb: true, byte: 1, bit: 1 });
  });

  it('VPD 80h: the unit serial number is printable ASCII, the same on every call', async () => {
    const a = (await lo.run({ cdb: cdb.inquiry(255, 0x80) })).data!;
    const serial = a.toString('latin1', 4, 4 + a.readUInt16BE(2));
    expect(serial).toMatch(/^[\x21-\x7e]+$/);
    expect((await lo.run({ cdb: cdb.inquiry(255, 0x80) })).data!.equals(a)).toBe(true);
  });

  it('VPD 83h: NAA LU designator and the port the command came in on', async () => {
    const port = targetPort(7);
    const nexus = makeNexus('iqn.2024-01.org.tandem:other', '400001370001', port);
    await lo.ready(nexus);
    const d = (await lo.run({ cdb: cdb.inquiry(0xffff, 0x83), nexus })).data!;
    const end = 4 + d.readUInt16BE(2);
    const descs: Array<{ codeSet: number; piv: boolean; assoc: number; type: number; body: Buffer }> = [];
    for (let off = 4; off < end; off += 4 + d[off + 3]!) {
      descs.push({
        codeSet: d[off]! & 0x0f,
        piv: (d[off + 1]! & 0x80) !== 0,
        assoc: (d[off + 1]! >> 4) & 0x03,
        type: d[off + 1]! & 0x0f,
        body: d.subarray(off + 4, off + 4 + d[off + 3]!),
      });
    }
    const naa = descs.find((x) => x.type === 3 && x.assoc === 0)!;
    expect(naa.codeSet).toBe(1);
    expect(naa.body.length).toBe(16);
    expect(naa.body[0]! >> 4).toBe(6);
    const rel = descs.find((x) => x.type === 4 && x.assoc === 1)!;
    expect(rel.body.readUInt16BE(2)).toBe(7);
    const names = descs.filter((x) => x.type === 8).map((x) => x.body.toString('utf8').replace(/\0+$/, ''));
    expect(names).toContain(port.name);
    expect(names).toContain(port.targetName);
    for (const x of descs.filter((x) => x.type === 8)) {
      expect(x.body.length % 4).toBe(0); // SPC-4 7.8.6.11: null-terminated, padded to 4
      expect(x.body.at(-1)).toBe(0);
    }
  });

  it('VPD B0h: maximum transfer length agrees with what READ enforces', async () => {
    const d = (await lo.run({ cdb: cdb.inquiry(255, 0xb0) })).data!;
    expect(d.readUInt16BE(2)).toBe(0x3c);
    const max = d.readUInt32BE(8);
    expect(max).toBeGreaterThan(0);
    const big = new Loopback({ blocks: max + 16 });
    await big.ready();
    expect((await big.run({ cdb: cdb.rw(0x28, 0, max) })).status).toBe(Status.GOOD);
    expect(kcq(await big.run({ cdb: cdb.rw(0xa8, 0, max + 1) }))).toBe('05/24/00');
  });
});

describe('INQUIRY and other commands on a LUN with no logical unit', () => {
  let lo: Loopback;
  beforeEach(() => {
    lo = new Loopback();
  });

  it('standard INQUIRY: peripheral qualifier 011b, device type 1Fh, GOOD', async () => {
    const c = await lo.run({ cdb: cdb.inquiry(96), lun: 5 });
    expect(c.status).toBe(Status.GOOD);
    expect(c.data![0]).toBe(0x7f);
    expect(c.data!.length).toBe(Math.min(96, c.data![4]! + 5));
  });

  it.each([
    ['TEST UNIT READY', cdb.testUnitReady()],
    ['READ(10)', cdb.rw(0x28, 0, 1)],
    ['MODE SENSE(6)', cdb.modeSense6({ page: 0x3f })],
    ['READ CAPACITY(10)', cdb.readCapacity10()],
    ['SYNCHRONIZE CACHE(10)', cdb.rw(0x35, 0, 0)],
    ['READ CAPACITY(16)', cdb.readCapacity16()],
  ])('%s → 05/25/00 LOGICAL UNIT NOT SUPPORTED', async (_n, b) => {
    const c = await lo.run({ cdb: b, lun: 5 });
    expect(kcq(c)).toBe('05/25/00');
    expect(c.data).toBeUndefined();
  });

  it('WRITE(10) → 05/25/00 without asking for data-out', async () => {
    const cmd = lo.command({ cdb: cdb.rw(0x2a, 0, 1), lun: 5, dataOut: Buffer.alloc(512) });
    expect(kcq(await lo.start(cmd))).toBe('05/25/00');
    expect(cmd.dataOutRequests).toEqual([]);
  });

  it('REQUEST SENSE returns GOOD with LOGICAL UNIT NOT SUPPORTED as sense data (SPC-4 6.39)', async () => {
    const c = await lo.run({ cdb: cdb.requestSense(252), lun: 5 });
    expect(c.status).toBe(Status.GOOD);
    const s = decodeSense(c.data!);
    expect([s.key, s.asc, s.ascq]).toEqual([0x05, 0x25, 0x00]);
  });

  it('REPORT LUNS answers on a missing LUN', async () => {
    const c = await lo.run({ cdb: cdb.reportLuns(64), lun: 5 });
    expect(c.status).toBe(Status.GOOD);
    expect(c.data!.readUInt32BE(0)).toBe(8);
  });
});
