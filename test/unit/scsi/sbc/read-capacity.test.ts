// READ CAPACITY(10) (SBC-3 5.15) and READ CAPACITY(16) (SBC-3 5.16).
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../../src/backstore/memory.js';
import { cdb, Loopback } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

describe('READ CAPACITY', () => {
  it.each([
    [512, 2048],
    [4096, 100],
    [1024, 1],
  ])(
    'block size %i, %i blocks: (10) and (16) report the last LBA and the block length',
    async (bs, blocks) => {
      const lo = new Loopback({ blockSize: bs, blocks });
      await lo.ready();
      const c10 = await lo.run({ cdb: cdb.readCapacity10() });
      expect(c10.status).toBe(Status.GOOD);
      expect(c10.data!.length).toBe(8);
      expect([c10.data!.readUInt32BE(0), c10.data!.readUInt32BE(4)]).toEqual([blocks - 1, bs]);
      const c16 = await lo.run({ cdb: cdb.readCapacity16(32) });
      expect(c16.data!.length).toBe(32);
      expect(c16.data!.readBigUInt64BE(0)).toBe(BigInt(blocks - 1));
      expect(c16.data!.readUInt32BE(8)).toBe(bs);
      expect(c16.data![12]! & 0x01).toBe(0); // PROT_EN
      // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT: 2^n logical blocks make a physical block.
      expect(bs << (c16.data![13]! & 0x0f)).toBeLessThanOrEqual(4096);
    },
  );

  it('PMI = 0 with a non-zero LBA → INVALID FIELD IN CDB (byte 2); PMI = 1 with any LBA is GOOD', async () => {
    const lo = new Loopback();
    await lo.ready();
    const bad10 = await lo.run({ cdb: cdb.readCapacity10(5, false) });
    expect(kcq(bad10)).toBe('05/24/00');
    expect(decodeSense(bad10.sense!).field).toMatchObject({ inCdb: true, byte: 2 });
    expect((await lo.run({ cdb: cdb.readCapacity10(5, true) })).status).toBe(Status.GOOD);
    expect((await lo.run({ cdb: cdb.readCapacity10(0xffffffff, true) })).status).toBe(Status.GOOD);
    const bad16 = await lo.run({ cdb: cdb.readCapacity16(32, 1n, false) });
    expect(kcq(bad16)).toBe('05/24/00');
    expect(kcq(await lo.run({ cdb: cdb.readCapacity16(32, 1n << 40n, false) }))).toBe('05/24/00');
    expect((await lo.run({ cdb: cdb.readCapacity16(32, 5n, true) })).status).toBe(Status.GOOD);
  });

  it('PMI = 1 still reports the last LBA of the medium (no delay boundary)', async () => {
    const lo = new Loopback({ blocks: 300 });
    await lo.ready();
    expect((await lo.run({ cdb: cdb.readCapacity10(7, true) })).data!.readUInt32BE(0)).toBe(299);
  });

  it('more than 2^32 blocks: (10) says FFFFFFFFh, (16) has the real last LBA', async () => {
    const blocks = 2 ** 32 + 10;
    const lo = new Loopback({ device: new MemoryDevice(blocks * 512) });
    await lo.ready();
    expect((await lo.run({ cdb: cdb.readCapacity10() })).data!.readUInt32BE(0)).toBe(0xffffffff);
    expect((await lo.run({ cdb: cdb.readCapacity16() })).data!.readBigUInt64BE(0)).toBe(BigInt(blocks - 1));
    // And the last block is addressable with READ(16).
    expect((await lo.run({ cdb: cdb.rw(0x88, BigInt(blocks - 1), 1) })).status).toBe(Status.GOOD);
    expect(kcq(await lo.run({ cdb: cdb.rw(0x88, BigInt(blocks), 1) }))).toBe('05/21/00');
  });

  it('exactly 2^32 blocks: the last LBA FFFFFFFFh fits (10) as is', async () => {
    const lo = new Loopback({ device: new MemoryDevice(2 ** 32 * 512) });
    await lo.ready();
    expect((await lo.run({ cdb: cdb.readCapacity10() })).data!.readUInt32BE(0)).toBe(0xffffffff);
  });

  it('RelAdr (obsolete byte 1 bit 0) of READ CAPACITY(10) → 05/24/00 with its bit', async () => {
    const lo = new Loopback();
    await lo.ready();
    const b = cdb.readCapacity10();
    b[1] = 0x01;
    const c = await lo.run({ cdb: b });
    expect(decodeSense(c.sense!).field).toEqual({ inCdb: true, byte: 1, bit: 0 });
  });
});
