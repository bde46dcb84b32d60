// EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.18) through the loopback: the
// parameter list is built byte by byte here (SPC-4 Tables 100, 104, 110), LUs are named by the
// NAA designator their VPD page 83h reports.
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb, Loopback, makeNexus, pattern } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

const BS = 512;

function xcopyCdb(length: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0x83;
  b.writeUInt32BE(length, 10);
  return b;
}

function rcrCdb(sa: number, listId: number, alloc = 1024): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0x84;
  b[1] = sa;
  b[2] = listId;
  b.writeUInt32BE(alloc, 10);
  return b;
}

/** Identification CSCD descriptor (E4h) for an NAA designator. */
function cscd(
  naa: Buffer,
  o: { luIdType?: number; nul?: boolean; type?: number; blockLength?: number } = {},
): Buffer {
  const d = Buffer.alloc(32);
  d[0] = o.type ?? 0xe4;
  d[1] = ((o.luIdType ?? 0) << 6) | (o.nul ? 0x20 : 0);
  d[4] = 0x01; // code set: binary
  d[5] = 0x03; // association LU, type NAA
  d[7] = naa.length;
  naa.copy(d, 8);
  d.writeUIntBE(o.blockLength ?? BS, 29, 3);
  return d;
}

/** Block→block segment descriptor (02h). */
function b2b(src: number, dst: number, blocks: number, srcLba: number, dstLba: number, type = 0x02): Buffer {
  const d = Buffer.alloc(28);
  d[0] = type;
  d.writeUInt16BE(0x18, 2);
  d.writeUInt16BE(src, 4);
  d.writeUInt16BE(dst, 6);
  d.writeUInt16BE(blocks, 10);
  d.writeBigUInt64BE(BigInt(srcLba), 12);
  d.writeBigUInt64BE(BigInt(dstLba), 20);
  return d;
}

function paramList(o: {
  listId?: number;
  usage?: number;
  cscds: Buffer[];
  segments: Buffer[];
  inline?: number;
}): Buffer {
  const h = Buffer.alloc(16);
  const c = Buffer.concat(o.cscds);
  const s = Buffer.concat(o.segments);
  h[0] = o.listId ?? 1;
  h[1] = (o.usage ?? 0b11) << 3;
  h.writeUInt16BE(c.length, 2);
  h.writeUInt32BE(s.length, 8);
  h.writeUInt32BE(o.inline ?? 0, 12);
  return Buffer.concat([h, c, s]);
}

describe('EXTENDED COPY', () => {
  let lo: Loopback;
  let naa0: Buffer;

  /** The LU's NAA designator as INQUIRY VPD 83h reports it. */
  async function naaOf(lun: number): Promise<Buffer> {
    const page = (await lo.run({ cdb: cdb.inquiry(255, 0x83), lun })).data!;
    for (let off = 4; off < page.length; off += 4 + page[off + 3]!) {
      if ((page[off + 1]! & 0x3f) === 0x03) return page.subarray(off + 4, off + 4 + page[off + 3]!);
    }
    throw new Error('no NAA designator');
  }
  const xcopy = (list: Buffer, nexus = lo.nexus) =>
    lo.run({ cdb: xcopyCdb(list.length), dataOut: list, nexus });
  const write = (lba: number, data: Buffer, lun = 0) =>
    lo.run({ cdb: cdb.rw(0x8a, lba, data.length / BS), dataOut: data, lun });
  const read = async (lba: number, blocks: number, lun = 0) =>
    (await lo.run({ cdb: cdb.rw(0x88, lba, blocks), lun })).data!;

  beforeEach(async () => {
    lo = new Loopback({ blocks: 4096 });
    await lo.ready();
    naa0 = await naaOf(0);
  });

  it('copies blocks within one LU (libiscsi Simple)', async () => {
    const data = pattern(2048 * BS, 5);
    expect((await write(0, data)).status).toBe(Status.GOOD);
    const c = await xcopy(paramList({ cscds: [cscd(naa0)], segments: [b2b(0, 0, 2048, 0, 4096 - 2048)] }));
    expect(c.status, c.sense ? kcq(c) : '').toBe(Status.GOOD);
    expect((await read(2048, 2048)).equals(data)).toBe(true);
  });

  it('copies between two LUs of the target, several segments', async () => {
    lo.addLun(1, 1024);
    await lo.ready(lo.nexus, 1);
    // Adding LUN 1 told LUN 0's nexuses that the LUN inventory changed.
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady() }))).toBe('06/3f/0e');
    const naa1 = await naaOf(1);
    const a = pattern(16 * BS, 7);
    const b = pattern(8 * BS, 9);
    await write(100, a);
    await write(300, b);
    const list = paramList({
      cscds: [cscd(naa0), cscd(naa1)],
      segments: [b2b(0, 1, 16, 100, 0), b2b(0, 1, 8, 300, 1000)],
    });
    expect((await xcopy(list)).status).toBe(Status.GOOD);
    expect((await read(0, 16, 1)).equals(a)).toBe(true);
    expect((await read(1000, 8, 1)).equals(b)).toBe(true);
  });

  it('overlapping ranges in one LU copy as if through a buffer (destination ahead, and behind)', async () => {
    const blocks = 3000; // more than one 1 MiB step
    const data = pattern(blocks * BS, 11);
    await write(0, data);
    expect(
      (await xcopy(paramList({ cscds: [cscd(naa0)], segments: [b2b(0, 0, blocks, 0, 100)] }))).status,
    ).toBe(Status.GOOD);
    expect((await read(100, blocks)).equals(data)).toBe(true);
    expect(
      (await xcopy(paramList({ cscds: [cscd(naa0)], segments: [b2b(0, 0, blocks, 100, 50)] }))).status,
    ).toBe(Status.GOOD);
    expect((await read(50, blocks)).equals(data)).toBe(true);
  });

  it('PARAMETER LIST LENGTH zero does nothing and is GOOD', async () => {
    const c = await lo.run({ cdb: xcopyCdb(0) });
    expect(c.status).toBe(Status.GOOD);
  });

  it('a list cut short is PARAMETER LIST LENGTH ERROR (libiscsi ParamHdr)', async () => {
    const full = paramList({ cscds: [cscd(naa0)], segments: [b2b(0, 0, 8, 0, 100)] });
    for (const len of [1, 15, 16 + 32 - 1, 16 + 32 + 28 - 1]) {
      expect(kcq(await xcopy(full.subarray(0, len)))).toBe('05/1a/00');
    }
  });

  it('more descriptors than OPERATING PARAMETERS allows: TOO MANY TARGET / SEGMENT DESCRIPTORS', async () => {
    const op = (await lo.run({ cdb: rcrCdb(0x03, 0) })).data!;
    const maxCscd = op.readUInt16BE(8);
    const maxSeg = op.readUInt16BE(10);
    const maxList = op.readUInt32BE(12);
    expect((maxCscd + 1) * 32 + 28).toBeLessThanOrEqual(maxList);
    expect(32 + (maxSeg + 1) * 28).toBeLessThanOrEqual(maxList);
    const manyCscd = paramList({
      cscds: Array(maxCscd + 1).fill(cscd(naa0)),
      segments: [b2b(0, 0, 1, 0, 1)],
    });
    expect(kcq(await xcopy(manyCscd))).toBe('05/26/06');
    const manySeg = paramList({ cscds: [cscd(naa0)], segments: Array(maxSeg + 1).fill(b2b(0, 0, 1, 0, 1)) });
    expect(kcq(await xcopy(manySeg))).toBe('05/26/08');
  });

  it('descriptor lists longer than MAXIMUM DESCRIPTOR LIST LENGTH: PARAMETER LIST LENGTH ERROR', async () => {
    const segs = Array(40).fill(b2b(0, 0, 1, 0, 1));
    expect(kcq(await xcopy(paramList({ cscds: [cscd(naa0)], segments: segs })))).toBe('05/1a/00');
  });

  it('unsupported descriptor type codes (libiscsi DescrType)', async () => {
    const fc = paramList({ cscds: [cscd(naa0, { type: 0xe0 })], segments: [b2b(0, 0, 1, 0, 1)] });
    expect(kcq(await xcopy(fc))).toBe('05/26/07');
    const stream = paramList({ cscds: [cscd(naa0)], segments: [b2b(0, 0, 1, 0, 1, 0x03)] });
    expect(kcq(await xcopy(stream))).toBe('05/26/09');
  });

  it('SPC-3 LU ID TYPE and NUL (obsolete in SPC-4) are ignored; inline data is refused', async () => {
    for (const o of [{ luIdType: 1 }, { luIdType: 2 }, { luIdType: 3 }, { nul: true }]) {
      const c = await xcopy(paramList({ cscds: [cscd(naa0, o)], segments: [b2b(0, 0, 1, 0, 1)] }));
      expect(c.status, JSON.stringify(o)).toBe(Status.GOOD);
    }
    const inline = paramList({ cscds: [cscd(naa0)], segments: [b2b(0, 0, 1, 0, 1)], inline: 4 });
    expect(kcq(await xcopy(Buffer.concat([inline, Buffer.alloc(4)])))).toBe('05/26/00');
  });

  it('LIST ID USAGE 01b is reserved', async () => {
    const c = await xcopy(paramList({ usage: 0b01, cscds: [cscd(naa0)], segments: [b2b(0, 0, 1, 0, 1)] }));
    expect(kcq(c)).toBe('05/26/00');
  });

  it('unreachable copy targets are COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE', async () => {
    const unknown = Buffer.from(naa0);
    unknown[15] = unknown[15]! ^ 0xff;
    for (const list of [
      paramList({ cscds: [cscd(naa0)], segments: [b2b(0, 1, 1, 0, 1)] }), // no CSCD 1
      paramList({ cscds: [cscd(unknown)], segments: [b2b(0, 0, 1, 0, 1)] }), // no such LU
      paramList({ cscds: [cscd(naa0, { blockLength: 4096 })], segments: [b2b(0, 0, 1, 0, 1)] }),
    ]) {
      expect(kcq(await xcopy(list))).toBe('0a/0d/02');
    }
  });

  it('an LU the nexus cannot see is not reachable either', async () => {
    const other = new Loopback({ blocks: 64 });
    other.addLun(7, 64);
    await other.ready(other.nexus, 7);
    const page = (await other.run({ cdb: cdb.inquiry(255, 0x83), lun: 7 })).data!;
    const foreign = page.subarray(8, 8 + page[7]!);
    expect(foreign.equals(naa0)).toBe(false);
    const c = await xcopy(paramList({ cscds: [cscd(naa0), cscd(foreign)], segments: [b2b(0, 1, 1, 0, 1)] }));
    expect(kcq(c)).toBe('0a/0d/02');
  });

  it('a segment past the end of either LU is COPY ABORTED and copies nothing (libiscsi ValidSegDescr)', async () => {
    await write(4000, pattern(96 * BS, 3));
    const before = await read(4000, 96);
    const past = await xcopy(paramList({ cscds: [cscd(naa0)], segments: [b2b(0, 0, 2048, 0, 4096 - 1)] }));
    expect(kcq(past)).toBe('0a/00/00');
    // The field pointer (SD = 0) names the DESTINATION BLOCK DEVICE LBA in the parameter list.
    expect(decodeSense(past.sense!).field).toEqual({ inCdb: false, byte: 16 + 32 + 20 });
    const srcPast = await xcopy(paramList({ cscds: [cscd(naa0)], segments: [b2b(0, 0, 8, 4095, 0)] }));
    expect(kcq(srcPast)).toBe('0a/00/00');
    expect((await read(4000, 96)).equals(before)).toBe(true);
  });

  it('a read-only destination is DATA PROTECT', async () => {
    const ro = new Loopback({ blocks: 64, readOnly: true });
    await ro.ready();
    const page = (await ro.run({ cdb: cdb.inquiry(255, 0x83) })).data!;
    const naa = page.subarray(8, 8 + page[7]!);
    const c = await ro.run({
      cdb: xcopyCdb(16 + 32 + 28),
      dataOut: paramList({ cscds: [cscd(naa)], segments: [b2b(0, 0, 1, 0, 1)] }),
    });
    expect(kcq(c)).toBe('07/27/00');
  });
});

describe('RECEIVE COPY RESULTS', () => {
  let lo: Loopback;
  let naa0: Buffer;
  beforeEach(async () => {
    lo = new Loopback({ blocks: 4096 });
    await lo.ready();
    const page = (await lo.run({ cdb: cdb.inquiry(255, 0x83) })).data!;
    naa0 = Buffer.from(page.subarray(8, 8 + page[7]!));
  });
  const xcopy = (list: Buffer, nexus = lo.nexus) =>
    lo.run({ cdb: xcopyCdb(list.length), dataOut: list, nexus });

  it('OPERATING PARAMETERS: limits and the implemented descriptor types (02h, E4h)', async () => {
    const d = (await lo.run({ cdb: rcrCdb(0x03, 0) })).data!;
    expect(d.readUInt32BE(0)).toBe(d.length - 4);
    expect(d[4]! & 0x01).toBe(1); // SNLID
    expect(d.readUInt16BE(8)).toBeGreaterThanOrEqual(2);
    expect(d.readUInt16BE(10)).toBeGreaterThanOrEqual(1);
    expect(d.readUInt32BE(16)).toBeGreaterThanOrEqual(4 << 20); // VMware's 4 MiB
    expect(d.readUInt32BE(20)).toBe(0); // no inline data
    expect(d[43]).toBe(2);
    expect([...d.subarray(44)]).toEqual([0x02, 0xe4]);
  });

  it('COPY STATUS of an unknown list is INVALID FIELD IN CDB (libiscsi CopyStatus)', async () => {
    expect(kcq(await lo.run({ cdb: rcrCdb(0x00, 1) }))).toBe('05/24/00');
    expect(kcq(await lo.run({ cdb: rcrCdb(0x01, 1) }))).toBe('05/24/00');
    expect(kcq(await lo.run({ cdb: rcrCdb(0x04, 1) }))).toBe('05/24/00');
  });

  it('LIST ID USAGE 00b holds the status until it is read; 10b and 11b hold nothing', async () => {
    const seg = [b2b(0, 0, 16, 0, 1000), b2b(0, 0, 8, 16, 2000)];
    expect(
      (await xcopy(paramList({ listId: 7, usage: 0b00, cscds: [cscd(naa0)], segments: seg }))).status,
    ).toBe(Status.GOOD);
    const s = (await lo.run({ cdb: rcrCdb(0x00, 7) })).data!;
    expect(s.readUInt32BE(0)).toBe(8);
    expect(s[4]).toBe(0x01); // completed without errors
    expect(s.readUInt16BE(5)).toBe(2); // segments processed
    expect(s[7]).toBe(0x00); // bytes
    expect(s.readUInt32BE(8)).toBe(24 * BS);
    expect(kcq(await lo.run({ cdb: rcrCdb(0x00, 7) }))).toBe('05/24/00'); // reported, so discarded
    for (const usage of [0b10, 0b11]) {
      await xcopy(paramList({ listId: 8, usage, cscds: [cscd(naa0)], segments: seg }));
      expect(kcq(await lo.run({ cdb: rcrCdb(0x00, 8) }))).toBe('05/24/00');
    }
  });

  it('a failed held copy reports status 02h and its sense in FAILED SEGMENT DETAILS', async () => {
    const list = paramList({
      listId: 3,
      usage: 0b00,
      cscds: [cscd(naa0)],
      segments: [b2b(0, 0, 8, 0, 100), b2b(0, 0, 8, 0, 4095)],
    });
    expect(kcq(await xcopy(list))).toBe('0a/00/00');
    const s = (await lo.run({ cdb: rcrCdb(0x00, 3) })).data!;
    expect(s[4]).toBe(0x02);
    expect(s.readUInt16BE(5)).toBe(1);
    expect(s.readUInt32BE(8)).toBe(8 * BS);
    const f = (await lo.run({ cdb: rcrCdb(0x04, 3) })).data!;
    expect(f.readUInt32BE(0)).toBe(f.length - 4);
    expect(f[56]).toBe(0x02);
    const senseLen = f.readUInt16BE(58);
    const sense = decodeSense(f.subarray(60, 60 + senseLen));
    expect([sense.key, sense.asc, sense.ascq]).toEqual([0x0a, 0, 0]);
    expect(kcq(await lo.run({ cdb: rcrCdb(0x04, 3) }))).toBe('05/24/00'); // reported, discarded
  });

  it('RECEIVE DATA of a held list has no data (no descriptor type of ours holds any)', async () => {
    await xcopy(paramList({ listId: 4, usage: 0b00, cscds: [cscd(naa0)], segments: [b2b(0, 0, 1, 0, 1)] }));
    const d = (await lo.run({ cdb: rcrCdb(0x01, 4) })).data!;
    expect([...d]).toEqual([0, 0, 0, 0]);
  });

  it('list identifiers belong to one I_T nexus', async () => {
    const other = makeNexus('iqn.2024-01.org.tandem:other', '400001370c0c');
    await lo.ready(other);
    await xcopy(paramList({ listId: 9, usage: 0b00, cscds: [cscd(naa0)], segments: [b2b(0, 0, 1, 0, 1)] }));
    expect(kcq(await lo.run({ cdb: rcrCdb(0x00, 9), nexus: other }))).toBe('05/24/00');
    expect((await lo.run({ cdb: rcrCdb(0x00, 9) })).status).toBe(Status.GOOD);
  });

  it('a new session of the same initiator port starts without held results', async () => {
    await xcopy(paramList({ listId: 5, usage: 0b00, cscds: [cscd(naa0)], segments: [b2b(0, 0, 1, 0, 1)] }));
    lo.target.nexusLost(lo.nexus, 'logout');
    const again = { ...lo.nexus };
    await lo.ready(again);
    expect(kcq(await lo.run({ cdb: rcrCdb(0x00, 5), nexus: again }))).toBe('05/24/00');
  });
});
