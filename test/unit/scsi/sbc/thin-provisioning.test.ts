// Thin provisioning: WRITE SAME(10/16) with UNMAP/ANCHOR/NDOB, UNMAP, GET LBA STATUS, and the
// READ CAPACITY(16) / VPD B0h / B2h fields that advertise them (SBC-3 4.7.3, 5.16, 5.28,
// 5.42, 5.43, 6.6.4, 6.6.5).
import { beforeEach, describe, expect, it } from 'vitest';
import {
  cdb10,
  cdb16,
  getLbaStatusCdb,
  Loopback,
  lbaStatusDescriptors,
  pattern,
  unmapCdb,
  unmapList,
} from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

const BS = 512;
const MAPPED = 0;
const DEALLOCATED = 1;

async function status(h: Loopback, lba: number, alloc = 4096): Promise<[number, number, number][]> {
  const c = await h.run({ cdb: getLbaStatusCdb(lba, alloc) });
  expect(kcq(c)).toBe('GOOD');
  return lbaStatusDescriptors(c.data!);
}

describe('advertising thin provisioning', () => {
  it('READ CAPACITY(16): LBPME and LBPRZ set, one logical block per physical block', async () => {
    const h = new Loopback({ blocks: 1000 });
    await h.ready();
    const c = await h.run({ cdb: [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0] });
    expect(c.data!.readBigUInt64BE(0)).toBe(999n);
    expect(c.data![13]! & 0x0f).toBe(0);
    expect(c.data![14]! & 0xc0).toBe(0xc0);
  });

  it('VPD B2h: LBPU, LBPWS, LBPWS10, LBPRZ, no ANC_SUP, provisioning type thin', async () => {
    const h = new Loopback({ blocks: 8192 });
    await h.ready();
    const d = (await h.run({ cdb: [0x12, 0x01, 0xb2, 0x00, 0xff, 0x00] })).data!;
    expect(d[1]).toBe(0xb2);
    expect(d[5]).toBe(0x80 | 0x40 | 0x20 | 0x04);
    expect(d[6]! & 0x07).toBe(0x02);
  });

  it('VPD B0h: WSNZ 0, unmap limits, granularity of 4 KiB, MAXIMUM WRITE SAME LENGTH', async () => {
    const h = new Loopback({ blocks: 8192 });
    await h.ready();
    const d = (await h.run({ cdb: [0x12, 0x01, 0xb0, 0x00, 0xff, 0x00] })).data!;
    expect(d.readUInt16BE(2)).toBe(0x3c);
    expect(d[4]! & 0x01).toBe(0); // WSNZ
    expect(d.readUInt32BE(20)).toBe(1 << 20); // MAXIMUM UNMAP LBA COUNT
    expect(d.readUInt32BE(24)).toBe(4095); // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
    expect(d.readUInt32BE(28)).toBe(4096 / BS); // OPTIMAL UNMAP GRANULARITY
    expect(d.readUInt32BE(32)).toBe(0x80000000); // UGAVALID, alignment 0
    expect(d.readBigUInt64BE(36)).toBe(BigInt((16 << 20) / BS)); // MAXIMUM WRITE SAME LENGTH
  });
});

describe('WRITE SAME', () => {
  let h: Loopback;
  beforeEach(async () => {
    h = new Loopback({ blocks: 8192 });
    await h.ready();
  });

  it('WRITE SAME(10) writes the one block of data-out to every block', async () => {
    const block = pattern(BS, 3);
    expect(kcq(await h.run({ cdb: cdb10(0x41, 0, 5, 20), dataOut: block }))).toBe('GOOD');
    const got = await h.readMedium(5, 20);
    for (let i = 0; i < 20; i++) expect(got.subarray(i * BS, (i + 1) * BS).equals(block)).toBe(true);
    expect((await h.readMedium(25, 1)).equals(Buffer.alloc(BS))).toBe(true);
  });

  it('WRITE SAME(16) NDOB writes zeroes that stay mapped, without data-out', async () => {
    await h.writeMedium(0, pattern(16 * BS, 1));
    expect(kcq(await h.run({ cdb: cdb16(0x93, 0x01, 0, 16), expectedLength: 0 }))).toBe('GOOD');
    expect((await h.readMedium(0, 16)).equals(Buffer.alloc(16 * BS))).toBe(true);
    expect((await status(h, 0))[0]).toEqual([0, 16, MAPPED]);
  });

  it('UNMAP bit: the range is deallocated and reads as zeroes, whatever the data-out held', async () => {
    await h.writeMedium(0, pattern(64 * BS, 1));
    expect(kcq(await h.run({ cdb: cdb16(0x93, 0x08, 8, 32), dataOut: Buffer.alloc(BS, 0xff) }))).toBe('GOOD');
    expect((await h.readMedium(8, 32)).equals(Buffer.alloc(32 * BS))).toBe(true);
    expect((await status(h, 0)).slice(0, 3)).toEqual([
      [0, 8, MAPPED],
      [8, 32, DEALLOCATED],
      [40, 24, MAPPED],
    ]);
  });

  it('NUMBER OF LOGICAL BLOCKS 0 runs to the last LBA (WSNZ = 0)', async () => {
    const block = pattern(BS, 5);
    expect(kcq(await h.run({ cdb: cdb10(0x41, 0, 8190, 0), dataOut: block }))).toBe('GOOD');
    expect((await h.readMedium(8190, 2)).equals(Buffer.concat([block, block]))).toBe(true);
  });

  it('0 blocks on an LU larger than MAXIMUM WRITE SAME LENGTH is INVALID FIELD IN CDB', async () => {
    const big = new Loopback({ blocks: 40000 });
    await big.ready();
    expect(kcq(await big.run({ cdb: cdb10(0x41, 0, 0, 0), dataOut: Buffer.alloc(BS) }))).toBe('05/24/00');
    expect(kcq(await big.run({ cdb: cdb16(0x93, 0, 0, 32769), dataOut: Buffer.alloc(BS) }))).toBe('05/24/00');
    expect(kcq(await big.run({ cdb: cdb16(0x93, 0, 0, 32768), dataOut: Buffer.alloc(BS) }))).toBe('GOOD');
  });

  it('LBA OUT OF RANGE for ranges past the end, 0 blocks included', async () => {
    const n = h.lu.blocks;
    expect(kcq(await h.run({ cdb: cdb10(0x41, 0, n - 1, 2), dataOut: Buffer.alloc(BS) }))).toBe('05/21/00');
    expect(kcq(await h.run({ cdb: cdb10(0x41, 0, n + 1, 0), dataOut: Buffer.alloc(BS) }))).toBe('05/21/00');
    expect(kcq(await h.run({ cdb: cdb16(0x93, 0, 0xffffffffffffffffn, 0), dataOut: Buffer.alloc(BS) }))).toBe(
      '05/21/00',
    );
  });

  it('ANCHOR is refused with or without UNMAP (ANC_SUP = 0); obsolete LBDATA/PBDATA are reserved', async () => {
    for (const b1 of [0x10, 0x18, 0x02, 0x04]) {
      const c = await h.run({ cdb: cdb10(0x41, b1, 0, 1), dataOut: Buffer.alloc(BS) });
      expect(kcq(c), `byte 1 = ${b1}`).toBe('05/24/00');
      expect(decodeSense(c.sense!).field?.byte).toBe(1);
    }
  });

  it('data-out must be exactly one block: longer is INVALID FIELD IN CDB, shorter fails too', async () => {
    expect(kcq(await h.run({ cdb: cdb10(0x41, 0x08, 0, 1), dataOut: Buffer.alloc(2 * BS) }))).toBe(
      '05/24/00',
    );
    expect((await h.run({ cdb: cdb10(0x41, 0x08, 0, 1), dataOut: Buffer.alloc(BS / 2) })).status).toBe(
      Status.CHECK_CONDITION,
    );
  });
});

describe('UNMAP', () => {
  let h: Loopback;
  beforeEach(async () => {
    h = new Loopback({ blocks: 8192 });
    await h.ready();
    await h.writeMedium(0, pattern(256 * BS, 1));
  });

  const unmap = (ranges: [number, number][]) => {
    const list = unmapList(ranges);
    return h.run({ cdb: unmapCdb(list.length), dataOut: list });
  };

  it('deallocates every descriptor; the blocks read as zeroes and GET LBA STATUS says so', async () => {
    expect(
      kcq(
        await unmap([
          [0, 8],
          [16, 24],
        ]),
      ),
    ).toBe('GOOD');
    expect((await h.readMedium(0, 8)).equals(Buffer.alloc(8 * BS))).toBe(true);
    expect((await h.readMedium(8, 1)).equals(pattern(256 * BS, 1).subarray(8 * BS, 9 * BS))).toBe(true);
    expect((await status(h, 0)).slice(0, 4)).toEqual([
      [0, 8, DEALLOCATED],
      [8, 8, MAPPED],
      [16, 24, DEALLOCATED],
      [40, 216, MAPPED],
    ]);
  });

  it('a block smaller than the 4 KiB unit is zeroed but stays mapped', async () => {
    expect(kcq(await unmap([[3, 1]]))).toBe('GOOD');
    expect((await h.readMedium(3, 1)).equals(Buffer.alloc(BS))).toBe(true);
    expect((await status(h, 0))[0]).toEqual([0, 256, MAPPED]);
  });

  it('PARAMETER LIST LENGTH 0 is GOOD; 1-7 is PARAMETER LIST LENGTH ERROR', async () => {
    expect(kcq(await h.run({ cdb: unmapCdb(0), expectedLength: 0 }))).toBe('GOOD');
    for (const n of [1, 7])
      expect(kcq(await h.run({ cdb: unmapCdb(n), dataOut: Buffer.alloc(n) }))).toBe('05/1a/00');
  });

  it('an out-of-range descriptor fails the command before anything is deallocated', async () => {
    const n = h.lu.blocks;
    expect(
      kcq(
        await unmap([
          [0, 8],
          [n - 1, 2],
        ]),
      ),
    ).toBe('05/21/00');
    expect((await status(h, 0))[0]).toEqual([0, 256, MAPPED]);
    expect(kcq(await unmap([[n, 0]]))).toBe('GOOD');
  });

  it('more blocks than MAXIMUM UNMAP LBA COUNT is INVALID FIELD IN PARAMETER LIST', async () => {
    const big = new Loopback({ blocks: 3 << 20 });
    await big.ready();
    const list = unmapList([
      [0, 1 << 19],
      [1 << 20, (1 << 19) + 1],
    ]);
    const c = await big.run({ cdb: unmapCdb(list.length), dataOut: list });
    expect(kcq(c)).toBe('05/26/00');
    expect(decodeSense(c.sense!).field).toEqual({ inCdb: false, byte: 8 + 16 + 8 });
  });

  it('ANCHOR is refused (ANC_SUP = 0); an incomplete last descriptor is ignored', async () => {
    const list = unmapList([[0, 8]]);
    expect(kcq(await h.run({ cdb: unmapCdb(list.length, 0x01), dataOut: list }))).toBe('05/24/00');
    const partial = Buffer.concat([unmapList([[0, 8]]), Buffer.alloc(10, 0xff)]);
    partial.writeUInt16BE(16 + 10, 2);
    expect(kcq(await h.run({ cdb: unmapCdb(partial.length), dataOut: partial }))).toBe('GOOD');
    expect((await status(h, 0))[0]).toEqual([0, 8, DEALLOCATED]);
  });

  it('256 descriptors of 0 blocks, overlapping, are GOOD', async () => {
    expect(kcq(await unmap(Array.from({ length: 256 }, (_, i) => [i >> 1, 0] as [number, number])))).toBe(
      'GOOD',
    );
  });
});

describe('GET LBA STATUS', () => {
  it('a fresh thin LU is one deallocated run; the first descriptor starts at STARTING LBA', async () => {
    const h = new Loopback({ blocks: 8192 });
    await h.ready();
    expect(await status(h, 100)).toEqual([[100, 8092, DEALLOCATED]]);
  });

  it('ALLOCATION LENGTH bounds the descriptors returned (PARAMETER DATA LENGTH counts those)', async () => {
    const h = new Loopback({ blocks: 8192 });
    await h.ready();
    for (let i = 0; i < 8; i++) await h.writeMedium(i * 16, Buffer.alloc(8 * BS, 1));
    const c = await h.run({ cdb: getLbaStatusCdb(0, 24) });
    expect(c.data!.length).toBe(24);
    expect(c.data!.readUInt32BE(0)).toBe(20);
    expect(lbaStatusDescriptors(c.data!)).toEqual([[0, 8, MAPPED]]);
    expect((await status(h, 0)).length).toBe(16);
  });

  it('LBA OUT OF RANGE at or past the capacity', async () => {
    const h = new Loopback({ blocks: 100 });
    await h.ready();
    expect(kcq(await h.run({ cdb: getLbaStatusCdb(99, 24) }))).toBe('GOOD');
    for (const lba of [100n, 101n, 1n << 63n, 0xffffffffffffffffn]) {
      expect(kcq(await h.run({ cdb: getLbaStatusCdb(lba, 24) }))).toBe('05/21/00');
    }
  });
});

describe('write protection of the thin-provisioning commands', () => {
  it('a readOnly LU refuses UNMAP and WRITE SAME with DATA PROTECT, WRITE PROTECTED', async () => {
    const h = new Loopback({ blocks: 8192, readOnly: true });
    await h.ready();
    const list = unmapList([[0, 1]]);
    expect(kcq(await h.run({ cdb: unmapCdb(list.length), dataOut: list }))).toBe('07/27/00');
    expect(kcq(await h.run({ cdb: cdb10(0x41, 0x08, 0, 1), expectedLength: 0 }))).toBe('07/27/00');
    expect(kcq(await h.run({ cdb: cdb16(0x93, 0, 0, 1), dataOut: Buffer.alloc(BS) }))).toBe('07/27/00');
  });
});
