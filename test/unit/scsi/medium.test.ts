// DESIGN.md safety rule 5, held by construction: overlapping writes through the engine run one
// after the other in arrival order, non-overlapping ones concurrently; the gate takes the LBA
// range lock from the opcode table's `writes` column, and the medium accessor handlers get
// refuses any change the row did not declare. The replicas apply writes concurrently on the
// strength of this, so a row that forgot the lock would let them diverge.
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { createOpcodeTable } from '../../../src/scsi/commands.js';
import { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import { Medium } from '../../../src/scsi/medium.js';
import { defineRow, OpcodeTable } from '../../../src/scsi/opcode-table.js';
import { RangeLock } from '../../../src/scsi/range-lock.js';
import { ScsiTarget } from '../../../src/scsi/target.js';
import { TandemError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/logger.js';
import { cdb, Loopback, makeNexus, pattern, settle } from '../../helpers/loopback.js';
import { kcq, Status } from '../../helpers/wire.js';

/** A RAM disk whose writes wait until the test lets them go; it records which started. */
class GatedDevice extends MemoryDevice {
  readonly started: number[] = [];
  readonly #gates: (() => void)[] = [];

  override async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    this.started.push(offset / 512);
    await new Promise<void>((r) => this.#gates.push(r));
    return super.write(offset, data, fua);
  }

  /** Lets the oldest waiting write proceed. */
  next(): void {
    this.#gates.shift()?.();
  }

  get waiting(): number {
    return this.#gates.length;
  }
}

describe('the gate holds the LBA range lock (rule 5)', () => {
  it('two overlapping WRITEs are serialized in arrival order; a disjoint one runs alongside', async () => {
    const dev = new GatedDevice(2048 * 512);
    const lo = new Loopback({ device: dev });
    await lo.ready();
    const first = lo.run({ cdb: cdb.rw(0x2a, 0, 8), dataOut: pattern(8 * 512, 1) });
    await settle();
    const second = lo.run({ cdb: cdb.rw(0x2a, 4, 8), dataOut: pattern(8 * 512, 2) });
    const disjoint = lo.run({ cdb: cdb.rw(0x2a, 100, 1), dataOut: pattern(512, 3) });
    await settle();
    // The disjoint write reached the device while the first holds [0, 8); the second did not.
    expect(dev.started).toEqual([0, 100]);
    dev.next(); // the first write completes
    expect((await first).status).toBe(Status.GOOD);
    await settle();
    expect(dev.started).toEqual([0, 100, 4]);
    while (dev.waiting > 0) dev.next();
    expect((await second).status).toBe(Status.GOOD);
    expect((await disjoint).status).toBe(Status.GOOD);
    // Blocks 4..11 hold the second write: it ran after the first.
    const medium = await dev.read(4 * 512, 8 * 512);
    expect(medium.equals(pattern(8 * 512, 2))).toBe(true);
    const head = await dev.read(0, 4 * 512);
    expect(head.equals(pattern(8 * 512, 1).subarray(0, 4 * 512))).toBe(true);
  });

  it('a COMPARE AND WRITE waits for an overlapping WRITE before it reads', async () => {
    const dev = new GatedDevice(2048 * 512);
    const lo = new Loopback({ device: dev });
    await lo.ready();
    const write = lo.run({ cdb: cdb.rw(0x2a, 10, 1), dataOut: pattern(512, 5) });
    await settle();
    const caw = Buffer.alloc(16);
    caw[0] = 0x89;
    caw.writeUInt32BE(10, 6); // LBA (low half of the 8-byte field at byte 2)
    caw[13] = 1;
    const compareAndWrite = lo.run({ cdb: caw, dataOut: Buffer.concat([pattern(512, 5), pattern(512, 6)]) });
    await settle();
    expect(dev.started).toEqual([10]);
    dev.next();
    expect((await write).status).toBe(Status.GOOD);
    await settle();
    // It compared against the completed write (a match), then wrote.
    expect(dev.started).toEqual([10, 10]);
    dev.next();
    expect((await compareAndWrite).status).toBe(Status.GOOD);
    expect((await dev.read(10 * 512, 512)).equals(pattern(512, 6))).toBe(true);
  });
});

describe('every row that writes the medium declares its range', () => {
  const rows = createOpcodeTable().rows();

  it.each(rows.filter((r) => r.writesMedium).map((r) => [r.name, r] as const))('%s', (_name, row) => {
    expect(row.writes).toBeDefined();
  });

  it('EXTENDED COPY, which writes other LUs, locks each write', () => {
    expect(rows.find((r) => r.name === 'EXTENDED COPY(LID1)')?.writes).toBe('per-write');
  });

  it('the rows that declare a range derive it from the parsed CDB', () => {
    const write10 = rows.find((r) => r.name === 'WRITE(10)')!;
    expect(typeof write10.writes).toBe('function');
    const lu = new LogicalUnit(new MemoryDevice(2048 * 512), { volumeId: 'v', blockSize: 512 });
    const parsed = write10.parse(cdb.rw(0x2a, 7, 3), lu);
    expect((write10.writes as (p: unknown) => unknown)(parsed)).toEqual({ lba: 7, blocks: 3 });
  });
});

describe('a change the row did not declare', () => {
  const VENDOR = 0xc0; // vendor specific (SPC-4 Table 13): unused by the engine's table

  function targetWith(writes: 'none' | 'outside'): { target: ScsiTarget; dev: MemoryDevice } {
    const rogue = defineRow<{ lba: number; blocks: number; dataOutLength?: number }>({
      name: 'ROGUE WRITE',
      opcode: VENDOR,
      cdbLength: 6,
      usage: [0xff, 0, 0, 0, 0, 0],
      direction: 'none',
      ...(writes === 'outside' ? { writes: () => ({ lba: 0, blocks: 1 }) } : {}),
      parse: () => ({ lba: 0, blocks: 1 }),
      async execute(ctx) {
        await ctx.medium.write(writes === 'outside' ? 1 : 0, Buffer.alloc(512, 0xaa), false);
        return undefined;
      },
    });
    const target = new ScsiTarget(new OpcodeTable([...createOpcodeTable().rows(), rogue]), silentLogger());
    const dev = new MemoryDevice(64 * 512);
    target.addLun(0, new LogicalUnit(dev, { volumeId: 'v', blockSize: 512 }));
    return { target, dev };
  }

  async function runRogue(target: ScsiTarget) {
    const lo = { target } as unknown as Loopback;
    const nexus = makeNexus();
    const base = {
      nexus,
      lun: 0,
      attribute: 1 as const,
      expectedLength: 0,
      readExpected: false,
      writeExpected: false,
      signal: { aborted: false },
      abort() {},
      receiveDataOut: () => Promise.reject(new Error('none')),
    };
    let tag = 1;
    const run = (op: number) =>
      lo.target.execute({
        ...base,
        tag: tag++,
        cdb: Buffer.from([op, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      });
    await run(0x00); // the power-on unit attention
    return run(VENDOR);
  }

  it('without a `writes` column: INTERNAL TARGET FAILURE (04/44/00), the medium untouched', async () => {
    const { target, dev } = targetWith('none');
    const c = await runRogue(target);
    expect(c.status).toBe(Status.CHECK_CONDITION);
    expect(kcq(c)).toBe('04/44/00');
    expect(dev.allocatedBytes).toBe(0);
  });

  it('outside the declared range: INTERNAL TARGET FAILURE (04/44/00), the medium untouched', async () => {
    const { target, dev } = targetWith('outside');
    const c = await runRogue(target);
    expect(kcq(c)).toBe('04/44/00');
    expect(dev.allocatedBytes).toBe(0);
  });
});

describe('Medium', () => {
  const owner = () => ({
    device: new GatedDevice(64 * 512),
    blockSize: 512,
    mode: { wce: true },
    rangeLock: new RangeLock(),
  });

  it("grant 'none' refuses every change with TANDEM_ERR_ASSERT", async () => {
    const m = new Medium(owner(), 'none');
    for (const change of [
      () => m.write(0, Buffer.alloc(512), false),
      () => m.writePattern(0, 2, Buffer.alloc(512), false),
      () => m.deallocate(0, 1),
    ]) {
      const err = await change().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TandemError);
      expect((err as TandemError).code).toBe('TANDEM_ERR_ASSERT');
    }
  });

  it("grant 'per-write' serializes overlapping changes and leaves disjoint ones concurrent", async () => {
    const o = owner();
    const m = new Medium(o, 'per-write');
    const a = m.write(0, Buffer.alloc(4 * 512, 1), false);
    const b = m.write(2, Buffer.alloc(512, 2), false);
    const c = m.write(10, Buffer.alloc(512, 3), false);
    await settle();
    expect(o.device.started).toEqual([0, 10]);
    expect(o.rangeLock.size).toBe(3);
    o.device.next();
    await a;
    await settle();
    expect(o.device.started).toEqual([0, 10, 2]);
    o.device.next();
    o.device.next();
    await Promise.all([b, c]);
    expect(o.rangeLock.size).toBe(0);
  });

  it('WCE = 0 writes through (FUA), as SBC-3 6.4.5 asks', async () => {
    const seen: boolean[] = [];
    const device = new (class extends MemoryDevice {
      override async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
        seen.push(fua);
        return super.write(offset, data, fua);
      }
    })(64 * 512);
    const m = new Medium(
      { device, blockSize: 512, mode: { wce: false }, rangeLock: new RangeLock() },
      'per-write',
    );
    await m.write(0, Buffer.alloc(512), false);
    expect(seen).toEqual([true]);
  });
});
