// COMPARE AND WRITE (SBC-3 5.2): compare, then write, atomically against other writes.
import { beforeEach, describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../../../src/backstore/block-device.js';
import { MemoryDevice } from '../../../../src/backstore/memory.js';
import { caw, cdb10, Loopback, pattern } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

const BS = 512;

describe('COMPARE AND WRITE', () => {
  let h: Loopback;
  beforeEach(async () => {
    h = new Loopback({ blocks: 8192 });
    await h.ready();
  });

  it('writes the second half when the first half matches the medium', async () => {
    const old = pattern(2 * BS, 1);
    const next = pattern(2 * BS, 2);
    await h.writeMedium(10, old);
    const c = await h.run({ cdb: caw(10, 2), dataOut: Buffer.concat([old, next]) });
    expect(kcq(c)).toBe('GOOD');
    expect((await h.readMedium(10, 2)).equals(next)).toBe(true);
  });

  it('reports MISCOMPARE 0E/1D/00 with INFORMATION = offset of the first differing byte, and writes nothing', async () => {
    const old = pattern(3 * BS, 1);
    await h.writeMedium(0, old);
    const verify = Buffer.from(old);
    verify[BS + 27] ^= 0xff;
    verify[2 * BS] ^= 0xff;
    const c = await h.run({ cdb: caw(0, 3), dataOut: Buffer.concat([verify, pattern(3 * BS, 9)]) });
    expect(c.status).toBe(Status.CHECK_CONDITION);
    const s = decodeSense(c.sense!);
    expect([s.key, s.asc, s.ascq]).toEqual([0x0e, 0x1d, 0x00]);
    expect(s.information).toBe(BigInt(BS + 27));
    expect((await h.readMedium(0, 3)).equals(old)).toBe(true);
  });

  it('reports the miscompare offset in descriptor format when D_SENSE is set', async () => {
    h.lu.mode.dSense = true;
    const c = await h.run({
      cdb: caw(0, 1),
      dataOut: Buffer.concat([Buffer.alloc(BS, 1), Buffer.alloc(BS, 2)]),
    });
    const s = decodeSense(c.sense!);
    expect(s.format).toBe('descriptor');
    expect([s.key, s.asc, s.ascq, s.information]).toEqual([0x0e, 0x1d, 0x00, 0n]);
  });

  it('accepts 255 blocks (MAXIMUM COMPARE AND WRITE LENGTH) and advertises it in VPD B0h', async () => {
    const c = await h.run({
      cdb: caw(0, 255),
      dataOut: Buffer.concat([Buffer.alloc(255 * BS), Buffer.alloc(255 * BS, 7)]),
    });
    expect(kcq(c)).toBe('GOOD');
    const vpd = await h.run({ cdb: [0x12, 0x01, 0xb0, 0x00, 0xff, 0x00] });
    expect(vpd.data![5]).toBe(255);
  });

  it('zero blocks with no data-out is GOOD and writes nothing', async () => {
    expect(kcq(await h.run({ cdb: caw(0, 0), expectedLength: 0 }))).toBe('GOOD');
  });

  it('refuses a data-out longer than 2 × NUMBER OF LOGICAL BLOCKS (EDTL too large) with INVALID FIELD IN CDB', async () => {
    // What libiscsi's InvalidDataOutSize and a 256-block CAW (byte 13 wraps to 0) send.
    const data = Buffer.alloc(4 * BS);
    expect(kcq(await h.run({ cdb: caw(0, 1), dataOut: data }))).toBe('05/24/00');
    expect(kcq(await h.run({ cdb: caw(0, 0), dataOut: data }))).toBe('05/24/00');
    expect((await h.readMedium(0, 2)).equals(Buffer.alloc(2 * BS))).toBe(true);
  });

  it('refuses a data-out shorter than 2 × NUMBER OF LOGICAL BLOCKS', async () => {
    const c = await h.run({ cdb: caw(0, 3), dataOut: Buffer.alloc(4 * BS) });
    expect(c.status).toBe(Status.CHECK_CONDITION);
  });

  it('checks the range: LBA OUT OF RANGE past the last block', async () => {
    const blocks = h.lu.blocks;
    expect(kcq(await h.run({ cdb: caw(blocks - 1, 2), dataOut: Buffer.alloc(4 * BS) }))).toBe('05/21/00');
    expect(kcq(await h.run({ cdb: caw(blocks - 2, 2), dataOut: Buffer.alloc(4 * BS) }))).toBe('GOOD');
  });

  it('refuses WRPROTECT (no protection information)', async () => {
    expect(kcq(await h.run({ cdb: caw(0, 1, 0x20), dataOut: Buffer.alloc(2 * BS) }))).toBe('05/24/00');
  });

  it('is atomic against a WRITE to the same range issued while it compares', async () => {
    // The device holds the CAW's read until the WRITE has been issued: without the range lock
    // the WRITE would land between CAW's compare and its write, and CAW would overwrite it.
    let releaseRead!: () => void;
    const gate = new Promise<void>((r) => {
      releaseRead = r;
    });
    const mem = new MemoryDevice(64 * BS);
    let firstRead = true;
    const slow: BlockDevice = {
      size: mem.size,
      description: 'slow',
      read: async (o, l) => {
        if (firstRead) {
          firstRead = false;
          await gate;
        }
        return mem.read(o, l);
      },
      write: (o, d, f) => mem.write(o, d, f),
      flush: () => mem.flush(),
      close: () => mem.close(),
    };
    const s = new Loopback({ device: slow });
    await s.ready();
    const cawDone = s.run({
      cdb: caw(0, 1),
      dataOut: Buffer.concat([Buffer.alloc(BS), Buffer.alloc(BS, 0xaa)]),
    });
    await new Promise((r) => setTimeout(r, 5));
    const writeDone = s.run({ cdb: cdb10(0x2a, 0, 0, 1), dataOut: Buffer.alloc(BS, 0xbb) });
    await new Promise((r) => setTimeout(r, 5));
    releaseRead();
    expect(kcq(await cawDone)).toBe('GOOD');
    expect((await writeDone).status).toBe(Status.GOOD);
    // Serialized in arrival order: CAW (compare zeroes, write AA), then the WRITE (BB).
    expect((await mem.read(0, BS)).equals(Buffer.alloc(BS, 0xbb))).toBe(true);
  });
});
