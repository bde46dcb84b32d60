// READ/WRITE(6/10/12/16) (SBC-3 5.8-5.11, 5.32-5.35): capacity boundaries, protection fields,
// reserved bits with their field pointer, data round trips and FUA.
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb, Loopback, pattern, RecordingDevice } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

const BLOCKS = 2048;
const BS = 512;
const READS = [
  ['READ(6)', 0x08],
  ['READ(10)', 0x28],
  ['READ(12)', 0xa8],
  ['READ(16)', 0x88],
] as const;
const WRITES = [
  ['WRITE(6)', 0x0a],
  ['WRITE(10)', 0x2a],
  ['WRITE(12)', 0xaa],
  ['WRITE(16)', 0x8a],
] as const;
const ALL = [...READS, ...WRITES];
const isWrite = (op: number) => op === 0x0a || op === 0x2a || op === 0xaa || op === 0x8a;
/** CDB length of each opcode and where its TRANSFER LENGTH field starts (SBC-3 5.x tables). */
const LAYOUT_MAP = new Map<number, { len: number; tl: number }>([
  [0x08, { len: 6, tl: 4 }],
  [0x0a, { len: 6, tl: 4 }],
  [0x28, { len: 10, tl: 7 }],
  [0x2a, { len: 10, tl: 7 }],
  [0xa8, { len: 12, tl: 6 }],
  [0xaa, { len: 12, tl: 6 }],
  [0x88, { len: 16, tl: 10 }],
  [0x8a, { len: 16, tl: 10 }],
]);
const LAYOUT = (op: number) => LAYOUT_MAP.get(op)!;

describe('READ/WRITE', () => {
  let lo: Loopback;
  beforeEach(async () => {
    lo = new Loopback({ blocks: BLOCKS, blockSize: BS });
    await lo.ready();
  });

  function io(op: number, lba: number | bigint, blocks: number, flags = 0, data?: Buffer) {
    const b = cdb.rw(op, lba, blocks, flags);
    if (!isWrite(op)) return lo.run({ cdb: b });
    const n = (op === 0x0a && blocks === 0 ? 256 : blocks) * BS;
    return lo.run({ cdb: b, dataOut: data ?? pattern(n, op) });
  }

  describe.each(ALL)('%s', (_name, op) => {
    it('the last block is in range', async () => {
      const c = await io(op, BLOCKS - 1, 1);
      expect(c.status, c.sense ? kcq(c) : '').toBe(Status.GOOD);
      if (!isWrite(op)) expect(c.data!.length).toBe(BS);
    });

    it('LBA + transfer length one past the end → 05/21/00', async () => {
      const c = await io(op, BLOCKS - 1, 2);
      expect(kcq(c)).toBe('05/21/00');
      expect(c.data).toBeUndefined();
    });

    it('LBA = capacity with one block → 05/21/00', async () => {
      expect(kcq(await io(op, BLOCKS, 1))).toBe('05/21/00');
    });

    it('a failed range check asks for no data-out and writes nothing', async () => {
      const cmd = lo.command({ cdb: cdb.rw(op, BLOCKS - 1, 2), dataOut: pattern(2 * BS) });
      if (!isWrite(op)) return expect(kcq(await lo.start(cmd))).toBe('05/21/00');
      expect(kcq(await lo.start(cmd))).toBe('05/21/00');
      expect(cmd.dataOutRequests).toEqual([]);
      expect((await lo.run({ cdb: cdb.rw(0x28, BLOCKS - 1, 1) })).data!.equals(Buffer.alloc(BS))).toBe(true);
    });

    it('the control byte (NACA, LINK) is reserved here → 05/24/00 pointing at it', async () => {
      const b = cdb.rw(op, 0, 1);
      const ctl = LAYOUT(op).len - 1;
      b[ctl] = 0x04; // NACA
      const c = await lo.run(isWrite(op) ? { cdb: b, dataOut: Buffer.alloc(BS) } : { cdb: b });
      expect(kcq(c)).toBe('05/24/00');
      expect(decodeSense(c.sense!).field).toEqual({ inCdb: true, byte: ctl, bit: 2 });
    });
  });

  describe.each(ALL.filter(([, op]) => op !== 0x08 && op !== 0x0a))(
    '%s protection and reserved fields',
    (_n, op) => {
      it.each([1, 2, 3, 4, 5, 6, 7])('RDPROTECT/WRPROTECT %i → 05/24/00', async (prot) => {
        const c = await io(op, 0, 1, prot << 5);
        expect(kcq(c)).toBe('05/24/00');
        expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte: 1 });
      });

      it('byte 1 bit 0 (reserved/obsolete) → 05/24/00 with field pointer byte 1 bit 0', async () => {
        const c = await io(op, 0, 1, 0x01);
        expect(kcq(c)).toBe('05/24/00');
        expect(decodeSense(c.sense!).field).toEqual({ inCdb: true, byte: 1, bit: 0 });
      });

      it('the reserved bits above GROUP NUMBER → 05/24/00 with field pointer', async () => {
        const b = cdb.rw(op, 0, 1);
        const group = LAYOUT(op).len === 10 ? 6 : LAYOUT(op).len - 2; // GROUP NUMBER byte
        b[group] = 0x80;
        const c = await lo.run(isWrite(op) ? { cdb: b, dataOut: Buffer.alloc(BS) } : { cdb: b });
        expect(kcq(c)).toBe('05/24/00');
        expect(decodeSense(c.sense!).field).toEqual({ inCdb: true, byte: group, bit: 7 });
      });

      it('DPO and FUA are accepted', async () => {
        expect((await io(op, 0, 1, 0x18)).status).toBe(Status.GOOD);
      });

      it('a transfer length of zero is not an error and moves no data', async () => {
        const c = await io(op, 0, 0, 0, Buffer.alloc(0));
        expect(c.status).toBe(Status.GOOD);
        expect(c.data?.length ?? 0).toBe(0);
      });

      it('LBA = capacity with zero blocks is accepted; capacity + 1 is out of range', async () => {
        expect((await io(op, BLOCKS, 0, 0, Buffer.alloc(0))).status).toBe(Status.GOOD);
        expect(kcq(await io(op, BLOCKS + 1, 0, 0, Buffer.alloc(0)))).toBe('05/21/00');
      });
    },
  );

  it('READ(16)/WRITE(16) with an LBA past 2^53 or 2^64-1 is out of range, not a crash', async () => {
    for (const lba of [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) {
      expect(kcq(await io(0x88, lba, 1))).toBe('05/21/00');
      expect(kcq(await io(0x8a, lba, 1))).toBe('05/21/00');
    }
  });

  it('READ(12)/READ(16): LBA + length that would wrap 32 bits is out of range', async () => {
    expect(kcq(await io(0xa8, 1, 0xffffffff))).toBe('05/21/00');
    expect(kcq(await io(0x88, 1, 0xffffffff))).toBe('05/21/00');
  });

  it('READ(6) with TRANSFER LENGTH 0 reads 256 blocks', async () => {
    const c = await io(0x08, 0, 0);
    expect(c.status).toBe(Status.GOOD);
    expect(c.data!.length).toBe(256 * BS);
    expect(c.transferLength).toBe(256 * BS);
  });

  it('READ(6) of 0 (=256) blocks at capacity - 255 is in range; at capacity - 255 + 1 it is not', async () => {
    expect((await io(0x08, BLOCKS - 256, 0)).status).toBe(Status.GOOD);
    expect(kcq(await io(0x08, BLOCKS - 255, 0))).toBe('05/21/00');
  });

  it('WRITE(6) with TRANSFER LENGTH 0 writes 256 blocks', async () => {
    const data = pattern(256 * BS, 6);
    const cmd = lo.command({ cdb: cdb.rw(0x0a, 10, 0), dataOut: data });
    expect((await lo.start(cmd)).status).toBe(Status.GOOD);
    expect(cmd.dataOutRequests).toEqual([256 * BS]);
    expect((await io(0x28, 10, 256)).data!.equals(data)).toBe(true);
  });

  it('READ(6) addresses 21 bits of LBA', async () => {
    const big = new Loopback({ blocks: 0x200000 });
    await big.ready();
    expect((await big.run({ cdb: cdb.rw(0x08, 0x1fffff, 1) })).status).toBe(Status.GOOD);
  });

  it.each(WRITES)('%s then every READ returns the same bytes', async (_n, wop) => {
    const lba = 100;
    const data = pattern(8 * BS, wop);
    expect((await io(wop, lba, 8, 0, data)).status).toBe(Status.GOOD);
    for (const [, rop] of READS) {
      const c = await io(rop, lba, 8);
      expect(c.data!.equals(data), `read opcode ${rop}`).toBe(true);
      expect(c.transferLength).toBe(8 * BS);
    }
    // Neighbours are untouched.
    expect((await io(0x28, lba - 1, 1)).data!.equals(Buffer.alloc(BS))).toBe(true);
    expect((await io(0x28, lba + 8, 1)).data!.equals(Buffer.alloc(BS))).toBe(true);
  });

  it('a round trip across the 1 MiB chunk boundary of the memory device', async () => {
    const big = new Loopback({ blocks: 8192 });
    await big.ready();
    const lba = (1 << 20) / BS - 3;
    const data = pattern(6 * BS, 9);
    expect((await big.run({ cdb: cdb.rw(0x2a, lba, 6), dataOut: data })).status).toBe(Status.GOOD);
    expect((await big.run({ cdb: cdb.rw(0x28, lba, 6) })).data!.equals(data)).toBe(true);
  });

  it('4096-byte logical blocks: boundaries and round trip in blocks of 4096', async () => {
    const big = new Loopback({ blocks: 64, blockSize: 4096 });
    await big.ready();
    const data = pattern(2 * 4096, 4);
    expect((await big.run({ cdb: cdb.rw(0x2a, 62, 2), dataOut: data })).status).toBe(Status.GOOD);
    expect((await big.run({ cdb: cdb.rw(0x28, 62, 2) })).data!.equals(data)).toBe(true);
    expect(kcq(await big.run({ cdb: cdb.rw(0x28, 63, 2) }))).toBe('05/21/00');
  });

  it('WRITE on a read-only LU → DATA PROTECT, WRITE PROTECTED (07/27/00); READ still works', async () => {
    const ro = new Loopback({ readOnly: true });
    await ro.ready();
    const cmd = ro.command({ cdb: cdb.rw(0x2a, 0, 1), dataOut: Buffer.alloc(BS) });
    expect(kcq(await ro.start(cmd))).toBe('07/27/00');
    expect(cmd.dataOutRequests).toEqual([]);
    expect((await ro.run({ cdb: cdb.rw(0x28, 0, 1) })).status).toBe(Status.GOOD);
  });
});

describe('software write protect (control mode page SWP)', () => {
  it('WRITE → 07/27/02 SOFTWARE WRITE PROTECTED without data-out; READ works; clearing SWP allows writes', async () => {
    const lo = new Loopback();
    await lo.ready();
    lo.lu.mode.swp = true;
    const cmd = lo.command({ cdb: cdb.rw(0x8a, 0, 1), dataOut: pattern(BS) });
    expect(kcq(await lo.start(cmd))).toBe('07/27/02');
    expect(cmd.dataOutRequests).toEqual([]);
    expect((await lo.run({ cdb: cdb.rw(0x88, 0, 1) })).data!.equals(Buffer.alloc(BS))).toBe(true);
    lo.lu.mode.swp = false;
    expect((await lo.run({ cdb: cdb.rw(0x8a, 0, 1), dataOut: pattern(BS) })).status).toBe(Status.GOOD);
  });
});

describe('FUA', () => {
  it.each([
    ['WRITE(10)', 0x2a],
    ['WRITE(12)', 0xaa],
    ['WRITE(16)', 0x8a],
  ])('%s with FUA reaches the device as a FUA write; without it, not', async (_n, op) => {
    const dev = new RecordingDevice(1024 * BS);
    const lo = new Loopback({ device: dev });
    await lo.ready();
    expect((await lo.run({ cdb: cdb.rw(op, 4, 2, 0x08), dataOut: pattern(2 * BS) })).status).toBe(
      Status.GOOD,
    );
    expect((await lo.run({ cdb: cdb.rw(op, 8, 1, 0x00), dataOut: pattern(BS) })).status).toBe(Status.GOOD);
    expect(dev.writes).toEqual([
      { offset: 4 * BS, length: 2 * BS, fua: true },
      { offset: 8 * BS, length: BS, fua: false },
    ]);
  });

  it('WRITE(6) has no FUA bit: never a FUA write', async () => {
    const dev = new RecordingDevice(1024 * BS);
    const lo = new Loopback({ device: dev });
    await lo.ready();
    expect((await lo.run({ cdb: cdb.rw(0x0a, 1, 1), dataOut: pattern(BS) })).status).toBe(Status.GOOD);
    expect(dev.writes).toEqual([{ offset: BS, length: BS, fua: false }]);
  });
});

describe('MAXIMUM TRANSFER LENGTH', () => {
  // Block Limits VPD says 8 MiB; 16385 blocks of 512 bytes is one block over.
  const MAX = (8 << 20) / BS;
  it.each([
    ['READ(10)', 0x28],
    ['READ(12)', 0xa8],
    ['READ(16)', 0x88],
    ['WRITE(10)', 0x2a],
    ['WRITE(12)', 0xaa],
    ['WRITE(16)', 0x8a],
  ])('%s one block over → 05/24/00 pointing at TRANSFER LENGTH, not at byte 6', async (_n, op) => {
    const lo = new Loopback({ blocks: MAX + 100 });
    await lo.ready();
    const cmd = lo.command({
      cdb: cdb.rw(op, 0, MAX + 1),
      ...(isWrite(op) ? { dataOut: Buffer.alloc(0), expectedLength: (MAX + 1) * BS } : {}),
    });
    const c = await lo.start(cmd);
    expect(kcq(c)).toBe('05/24/00');
    expect(cmd.dataOutRequests).toEqual([]);
    expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte: LAYOUT(op).tl });
  });

  it('exactly the maximum is accepted', async () => {
    const lo = new Loopback({ blocks: MAX + 100 });
    await lo.ready();
    const c = await lo.run({ cdb: cdb.rw(0x88, 0, MAX) });
    expect(c.status).toBe(Status.GOOD);
    expect(c.data!.length).toBe(MAX * BS);
  });
});
