// VERIFY(10/12/16) (SBC-3 5.24-5.26) and SYNCHRONIZE CACHE(10/16) (SBC-3 5.22-5.23).
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb, Loopback, pattern, RecordingDevice } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

const BS = 512;
const BLOCKS = 1024;
const VERIFIES = [
  ['VERIFY(10)', 0x2f],
  ['VERIFY(12)', 0xaf],
  ['VERIFY(16)', 0x8f],
] as const;
const BYTCHK = (n: number) => n << 1;

describe.each(VERIFIES)('%s', (_name, op) => {
  let lo: Loopback;
  const medium = pattern(4 * BS, 77);
  beforeEach(async () => {
    lo = new Loopback({ blocks: BLOCKS, blockSize: BS });
    await lo.ready();
    expect((await lo.run({ cdb: cdb.rw(0x2a, 20, 4), dataOut: medium })).status).toBe(Status.GOOD);
  });

  it('BYTCHK 0: medium verification only, GOOD, no data-out', async () => {
    const cmd = lo.command({ cdb: cdb.rw(op, 20, 4, BYTCHK(0)) });
    expect((await lo.start(cmd)).status).toBe(Status.GOOD);
    expect(cmd.dataOutRequests).toEqual([]);
  });

  it('BYTCHK 1 with matching data: GOOD, asks for exactly the blocks', async () => {
    const cmd = lo.command({ cdb: cdb.rw(op, 20, 4, BYTCHK(1)), dataOut: medium });
    expect((await lo.start(cmd)).status).toBe(Status.GOOD);
    expect(cmd.dataOutRequests).toEqual([4 * BS]);
  });

  it.each([0, 1, 511, 512, 1000, 4 * BS - 1])(
    'BYTCHK 1 miscompare at byte %i → 0E/1D/00, INFORMATION = that offset',
    async (at) => {
      const data = Buffer.from(medium);
      data[at] ^= 0x01;
      if (at + 3 < data.length) data[at + 3] ^= 0xff; // a later difference must not win
      const c = await lo.run({ cdb: cdb.rw(op, 20, 4, BYTCHK(1)), dataOut: data });
      expect(kcq(c)).toBe('0e/1d/00');
      const s = decodeSense(c.sense!);
      expect(s.information).toBe(BigInt(at));
      expect(c.sense![0]! & 0x80).toBe(0x80); // VALID
    },
  );

  it('BYTCHK 3: one block compared against every block of the range', async () => {
    const same = pattern(BS, 5);
    for (let i = 0; i < 3; i++) await lo.run({ cdb: cdb.rw(0x2a, 40 + i, 1), dataOut: same });
    const cmd = lo.command({ cdb: cdb.rw(op, 40, 3, BYTCHK(3)), dataOut: same });
    expect((await lo.start(cmd)).status).toBe(Status.GOOD);
    expect(cmd.dataOutRequests).toEqual([BS]);
  });

  it('BYTCHK 3 miscompare in the first block → 0E/1D/00 with the offset', async () => {
    const same = pattern(BS, 5);
    for (let i = 0; i < 3; i++) await lo.run({ cdb: cdb.rw(0x2a, 40 + i, 1), dataOut: same });
    const other = Buffer.from(same);
    other[17] ^= 0x80;
    const c = await lo.run({ cdb: cdb.rw(op, 40, 3, BYTCHK(3)), dataOut: other });
    expect(kcq(c)).toBe('0e/1d/00');
    expect(decodeSense(c.sense!).information).toBe(17n);
  });

  it('BYTCHK 3 miscompare only in a later block is still a miscompare', async () => {
    const same = pattern(BS, 5);
    for (let i = 0; i < 3; i++) await lo.run({ cdb: cdb.rw(0x2a, 40 + i, 1), dataOut: same });
    const differs = Buffer.from(same);
    differs[0] ^= 1;
    await lo.run({ cdb: cdb.rw(0x2a, 42, 1), dataOut: differs });
    expect(kcq(await lo.run({ cdb: cdb.rw(op, 40, 3, BYTCHK(3)), dataOut: same }))).toBe('0e/1d/00');
  });

  it('BYTCHK 2 (reserved) → 05/24/00 pointing at byte 1', async () => {
    const c = await lo.run({ cdb: cdb.rw(op, 20, 1, BYTCHK(2)), dataOut: Buffer.alloc(BS) });
    expect(kcq(c)).toBe('05/24/00');
    expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte: 1 });
  });

  it('VRPROTECT ≠ 0 → 05/24/00', async () => {
    expect(kcq(await lo.run({ cdb: cdb.rw(op, 20, 1, 0x20) }))).toBe('05/24/00');
  });

  it('range: the last block verifies, one past the end → 05/21/00', async () => {
    expect((await lo.run({ cdb: cdb.rw(op, BLOCKS - 1, 1) })).status).toBe(Status.GOOD);
    expect(kcq(await lo.run({ cdb: cdb.rw(op, BLOCKS - 1, 2) }))).toBe('05/21/00');
    expect(
      kcq(await lo.run({ cdb: cdb.rw(op, BLOCKS - 1, 2, BYTCHK(1)), dataOut: Buffer.alloc(2 * BS) })),
    ).toBe('05/21/00');
  });

  it('VERIFICATION LENGTH 0 with BYTCHK 1: nothing compared, no data-out, GOOD', async () => {
    const cmd = lo.command({ cdb: cdb.rw(op, 20, 0, BYTCHK(1)), dataOut: Buffer.alloc(0) });
    expect((await lo.start(cmd)).status).toBe(Status.GOOD);
    expect(cmd.dataOutRequests).toEqual([]);
  });

  it('the miscompare is reported in descriptor format with D_SENSE=1', async () => {
    lo.lu.mode.dSense = true;
    const data = Buffer.from(medium);
    data[1234] ^= 0x10;
    const c = await lo.run({ cdb: cdb.rw(op, 20, 4, BYTCHK(1)), dataOut: data });
    const s = decodeSense(c.sense!);
    expect([s.format, s.key, s.asc, s.ascq, s.information]).toEqual(['descriptor', 0x0e, 0x1d, 0x00, 1234n]);
    expect(s.descriptorTypes).toContain(0x00);
  });
});

describe('SYNCHRONIZE CACHE', () => {
  let lo: Loopback;
  let dev: RecordingDevice;
  beforeEach(async () => {
    dev = new RecordingDevice(BLOCKS * BS);
    lo = new Loopback({ device: dev });
    await lo.ready();
  });

  describe.each([
    ['SYNCHRONIZE CACHE(10)', 0x35],
    ['SYNCHRONIZE CACHE(16)', 0x91],
  ])('%s', (_n, op) => {
    it('NUMBER OF LOGICAL BLOCKS 0 (to the end of the medium): GOOD, flushed', async () => {
      expect((await lo.run({ cdb: cdb.rw(op, 0, 0) })).status).toBe(Status.GOOD);
      expect(dev.flushes).toBe(1);
    });

    it('a range ending on the last block: GOOD', async () => {
      expect((await lo.run({ cdb: cdb.rw(op, BLOCKS - 8, 8) })).status).toBe(Status.GOOD);
      expect((await lo.run({ cdb: cdb.rw(op, BLOCKS, 0) })).status).toBe(Status.GOOD);
    });

    it('a range past the end → 05/21/00 and no flush', async () => {
      expect(kcq(await lo.run({ cdb: cdb.rw(op, BLOCKS - 8, 9) }))).toBe('05/21/00');
      expect(kcq(await lo.run({ cdb: cdb.rw(op, BLOCKS + 1, 0) }))).toBe('05/21/00');
      expect(dev.flushes).toBe(0);
    });

    it('IMMED is accepted; SYNC_NV (byte 1 bit 2) is reserved → 05/24/00 with the bit', async () => {
      expect((await lo.run({ cdb: cdb.rw(op, 0, 0, 0x02) })).status).toBe(Status.GOOD);
      const c = await lo.run({ cdb: cdb.rw(op, 0, 0, 0x04) });
      expect(kcq(c)).toBe('05/24/00');
      expect(decodeSense(c.sense!).field).toEqual({ inCdb: true, byte: 1, bit: 2 });
    });
  });

  it('SYNCHRONIZE CACHE(16) with an LBA beyond 2^53 is out of range', async () => {
    expect(kcq(await lo.run({ cdb: cdb.rw(0x91, 2n ** 60n, 1) }))).toBe('05/21/00');
  });
});

describe('VERIFY MAXIMUM TRANSFER LENGTH', () => {
  const MAX = (8 << 20) / BS;
  it.each([
    ['VERIFY(10)', 0x2f, 7],
    ['VERIFY(12)', 0xaf, 6],
    ['VERIFY(16)', 0x8f, 10],
  ])(
    '%s one block over → 05/24/00 (opcode %i) pointing at VERIFICATION LENGTH, byte %i, not at byte 6',
    async (_n, op, byte) => {
      const lo = new Loopback({ blocks: MAX + 100 });
      await lo.ready();
      const c = await lo.run({ cdb: cdb.rw(op, 0, MAX + 1) });
      expect(kcq(c)).toBe('05/24/00');
      expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte });
    },
  );
});
