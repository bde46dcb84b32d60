// ORWRITE(16), PRE-FETCH(10/16), WRITE AND VERIFY(10/12/16), READ DEFECT DATA(10/12),
// START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, and write protection of a readOnly LU.
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb10, cdb12, cdb16, Loopback, makeNexus, pattern } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

const BS = 512;

describe('ORWRITE(16)', () => {
  it('ORs the data-out into the medium', async () => {
    const h = new Loopback({ blocks: 8192 });
    await h.ready();
    await h.writeMedium(4, Buffer.alloc(2 * BS, 0x0f));
    expect(kcq(await h.run({ cdb: cdb16(0x8b, 0, 4, 2), dataOut: Buffer.alloc(2 * BS, 0x30) }))).toBe('GOOD');
    expect((await h.readMedium(4, 2)).equals(Buffer.alloc(2 * BS, 0x3f))).toBe(true);
    expect(kcq(await h.run({ cdb: cdb16(0x8b, 0, h.lu.blocks, 1), dataOut: Buffer.alloc(BS) }))).toBe(
      '05/21/00',
    );
    expect(kcq(await h.run({ cdb: cdb16(0x8b, 0x20, 0, 1), dataOut: Buffer.alloc(BS) }))).toBe('05/24/00');
  });
});

describe('PRE-FETCH', () => {
  let h: Loopback;
  beforeEach(async () => {
    h = new Loopback({ blocks: 40000 });
    await h.ready();
  });

  it('a range that fits the cache ends with CONDITION MET, IMMED or not', async () => {
    for (const b1 of [0x00, 0x02]) {
      const c = await h.run({ cdb: cdb10(0x34, b1, 0, 256, 3) });
      expect(c.status).toBe(Status.CONDITION_MET);
      expect(c.sense).toBeUndefined();
      expect((await h.run({ cdb: cdb16(0x90, b1, 100, 1) })).status).toBe(Status.CONDITION_MET);
    }
  });

  it('a range larger than MAXIMUM PREFETCH LENGTH ends GOOD (does not fit), and the limit is in VPD B0h', async () => {
    expect(kcq(await h.run({ cdb: cdb10(0x34, 0, 0, 0) }))).toBe('GOOD'); // 0: to the last LBA
    const vpd = (await h.run({ cdb: [0x12, 0x01, 0xb0, 0x00, 0xff, 0x00] })).data!;
    expect(vpd.readUInt32BE(16)).toBe((8 << 20) / BS);
  });

  it('LBA OUT OF RANGE past the end', async () => {
    expect(kcq(await h.run({ cdb: cdb10(0x34, 0, 40001, 0) }))).toBe('05/21/00');
    expect(kcq(await h.run({ cdb: cdb16(0x90, 0, 39999, 2) }))).toBe('05/21/00');
  });
});

describe('WRITE AND VERIFY', () => {
  it('writes through and, with BYTCHK = 1, compares what it wrote', async () => {
    const h = new Loopback({ blocks: 8192 });
    await h.ready();
    const data = pattern(3 * BS, 4);
    expect(kcq(await h.run({ cdb: cdb10(0x2e, 0x02, 7, 3), dataOut: data }))).toBe('GOOD');
    expect((await h.readMedium(7, 3)).equals(data)).toBe(true);
    expect(kcq(await h.run({ cdb: cdb12(0xae, 0x00, 1, 1), dataOut: Buffer.alloc(BS, 1) }))).toBe('GOOD');
    expect(kcq(await h.run({ cdb: cdb16(0x8e, 0x12, 2, 1), dataOut: Buffer.alloc(BS, 2) }))).toBe('GOOD');
    expect(kcq(await h.run({ cdb: cdb10(0x2e, 0x40, 0, 1), dataOut: Buffer.alloc(BS) }))).toBe('05/24/00');
    expect(kcq(await h.run({ cdb: cdb10(0x2e, 0, h.lu.blocks, 1), dataOut: Buffer.alloc(BS) }))).toBe(
      '05/21/00',
    );
  });
});

describe('READ DEFECT DATA', () => {
  it('(10): an empty list in the format asked for, 4-byte header', async () => {
    const h = new Loopback({ blocks: 8192 });
    await h.ready();
    const c = await h.run({ cdb: [0x37, 0, 0x18 | 0x05, 0, 0, 0, 0, 0, 32, 0] });
    expect(kcq(c)).toBe('GOOD');
    expect([...c.data!]).toEqual([0, 0x18 | 0x05, 0, 0]);
    expect(kcq(await h.run({ cdb: [0x37, 0, 0x07, 0, 0, 0, 0, 0, 32, 0] }))).toBe('05/24/00');
  });

  it('(12): an empty list, 8-byte header', async () => {
    const h = new Loopback({ blocks: 8192 });
    await h.ready();
    const c = await h.run({ cdb: [0xb7, 0x03, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0] });
    expect([...c.data!]).toEqual([0, 0x03, 0, 0, 0, 0, 0, 0]);
  });
});

describe('START STOP UNIT and PREVENT ALLOW MEDIUM REMOVAL', () => {
  let h: Loopback;
  beforeEach(async () => {
    h = new Loopback({ blocks: 8192 });
    await h.ready();
  });

  it('start, stop and power conditions succeed; the LU stays ready', async () => {
    for (const b4 of [0x01, 0x00, 0x04, 0x10, 0x20, 0x30, 0x70, 0xa0, 0xb0]) {
      expect(kcq(await h.run({ cdb: [0x1b, 0x01, 0, 0, b4, 0] })), `byte 4 = ${b4}`).toBe('GOOD');
      expect(kcq(await h.run({ cdb: [0, 0, 0, 0, 0, 0] }))).toBe('GOOD');
    }
  });

  it('LOEJ on a non-removable LU is INVALID FIELD IN CDB; reserved power conditions too', async () => {
    for (const b4 of [0x02, 0x03]) {
      const c = await h.run({ cdb: [0x1b, 0x01, 0, 0, b4, 0] });
      expect(kcq(c)).toBe('05/24/00');
      expect(decodeSense(c.sense!).field).toEqual({ inCdb: true, byte: 4, bit: 1 });
    }
    expect(kcq(await h.run({ cdb: [0x1b, 0, 0, 0, 0x12, 0] }))).toBe('GOOD'); // LOEJ ignored when POWER CONDITION != 0
    for (const pc of [0x4, 0x5, 0x6, 0x8, 0x9, 0xc, 0xf])
      expect(kcq(await h.run({ cdb: [0x1b, 0, 0, 0, pc << 4, 0] }))).toBe('05/24/00');
  });

  it('prevent is held per I_T nexus and ends with ALLOW, nexus loss or a reset', async () => {
    const other = await h.ready(makeNexus('iqn.2026-11.test:other'));
    expect(kcq(await h.run({ cdb: [0x1e, 0, 0, 0, 0x01, 0] }))).toBe('GOOD');
    expect(kcq(await h.run({ cdb: [0x1e, 0, 0, 0, 0x01, 0], nexus: other }))).toBe('GOOD');
    expect([...h.lu.preventRemoval].length).toBe(2);
    expect(kcq(await h.run({ cdb: [0x1e, 0, 0, 0, 0x00, 0] }))).toBe('GOOD');
    expect([...h.lu.preventRemoval]).toEqual([other.id]);
    h.lu.forgetNexus(other.id);
    expect(h.lu.preventRemoval.size).toBe(0);
    await h.run({ cdb: [0x1e, 0, 0, 0, 0x01, 0] });
    h.lu.reset();
    expect(h.lu.preventRemoval.size).toBe(0);
    expect(kcq(await h.run({ cdb: [0x1e, 0, 0, 0, 0x02, 0] }))).toBe('05/24/00'); // medium changer only
  });
});

describe('a readOnly LU', () => {
  it('refuses every medium-writing command with DATA PROTECT, WRITE PROTECTED (27h/00h)', async () => {
    const h = new Loopback({ blocks: 8192, readOnly: true });
    await h.ready();
    const d = Buffer.alloc(2 * BS);
    const writes: [string, number[], Buffer | undefined][] = [
      ['WRITE(10)', cdb10(0x2a, 0, 0, 1), d.subarray(0, BS)],
      ['WRITE AND VERIFY(10)', cdb10(0x2e, 0, 0, 1), d.subarray(0, BS)],
      ['WRITE AND VERIFY(12)', cdb12(0xae, 0, 0, 1), d.subarray(0, BS)],
      ['WRITE AND VERIFY(16)', cdb16(0x8e, 0, 0, 1), d.subarray(0, BS)],
      ['ORWRITE(16)', cdb16(0x8b, 0, 0, 1), d.subarray(0, BS)],
      ['COMPARE AND WRITE', [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], d],
      ['WRITE SAME(10)', cdb10(0x41, 0, 0, 1), d.subarray(0, BS)],
      ['WRITE SAME(16)', cdb16(0x93, 0x08, 0, 1), d.subarray(0, BS)],
    ];
    for (const [name, cdb, out] of writes) {
      expect(kcq(await h.run({ cdb: cdb, ...(out ? { dataOut: out } : {}) })), name).toBe('07/27/00');
    }
    expect(kcq(await h.run({ cdb: cdb10(0x28, 0, 0, 1) }))).toBe('GOOD');
    const ms = (await h.run({ cdb: [0x1a, 0x08, 0x3f, 0, 0xff, 0] })).data!;
    expect(ms[2]! & 0x80).toBe(0x80);
  });
});
