// Issue #13, finding 4: EXTENDED COPY's reads and writes pass the same gate as a direct command
// of the issuing I_T nexus on the copy target (reservations, ALUA state and forwarding, unit
// attentions left alone). Regression tests: before the fix the copy manager wrote the
// destination's device directly and read the source's local copy whatever its state.
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../../src/backstore/memory.js';
import type { AccessState, LuAccess } from '../../../../src/scsi/alua.js';
import type { CommandForwarder, ForwardedCommand } from '../../../../src/scsi/forwarding.js';
import { LogicalUnit } from '../../../../src/scsi/logical-unit.js';
import { cdb, Loopback, makeNexus, pattern } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';
import { COPY_LIST_SEGMENT, copyList, xcopyCdb } from '../../../helpers/xcopy.js';

const BS = 512;
const X = makeNexus('iqn.2024-01.org.tandem:x', '400001370001');
const Y = makeNexus('iqn.2024-01.org.tandem:y', '400001370002');

function prOut(sa: number, type: number, key: bigint, saKey = 0n): { cdb: Buffer; dataOut: Buffer } {
  const c = Buffer.alloc(10);
  c[0] = 0x5f;
  c[1] = sa;
  c[2] = type;
  c.writeUInt32BE(24, 5);
  const p = Buffer.alloc(24);
  p.writeBigUInt64BE(key, 0);
  p.writeBigUInt64BE(saKey, 8);
  return { cdb: c, dataOut: p };
}

class Port implements LuAccess {
  constructor(public current: AccessState) {}
  state(): AccessState {
    return this.current;
  }
  mayExecute(): boolean {
    return this.current === 'active-optimized';
  }
  groupState(): AccessState {
    return this.current;
  }
}

/** The primary's side of forwarding, as far as these tests need it: its own copy of the LU. */
class FakePrimary implements CommandForwarder {
  readonly seen: ForwardedCommand[] = [];
  constructor(readonly medium: Buffer) {}
  async forward(fc: ForwardedCommand) {
    this.seen.push(fc);
    const lba = Number(fc.cdb.readBigUInt64BE(2));
    const bytes = fc.cdb.readUInt32BE(10) * BS;
    if (fc.cdb[0] === 0x88) {
      const data = Buffer.from(this.medium.subarray(lba * BS, lba * BS + bytes));
      return { status: Status.GOOD, data, transferLength: bytes };
    }
    fc.dataOut.copy(this.medium, lba * BS);
    return { status: Status.GOOD, transferLength: bytes };
  }
  async resetPeers(): Promise<void> {}
}

interface Setup {
  lo: Loopback;
  naa0: Buffer;
  naa1: Buffer;
  lu1: LogicalUnit;
  dev1: MemoryDevice;
}

/** LUN 0 (Active/Optimized) and LUN 1 with the given port state and forwarder. */
async function setup(access?: LuAccess, forwarder?: CommandForwarder): Promise<Setup> {
  const lo = new Loopback({ blocks: 1024 });
  const dev1 = new MemoryDevice(1024 * BS);
  const lu1 = new LogicalUnit(
    dev1,
    { volumeId: 'vol-gate-1', blockSize: BS },
    { ...(access ? { access } : {}), ...(forwarder ? { forwarder } : {}) },
  );
  lo.target.addLun(1, lu1);
  for (const n of [lo.nexus, X, Y]) {
    await lo.ready(n, 0);
    // LUN 1 of a port that cannot do I/O fails TEST UNIT READY: take its unit attention only.
    const first = await lo.run({ cdb: cdb.testUnitReady(), nexus: n, lun: 1 });
    expect(kcq(first)).toBe('06/29/00');
  }
  return { lo, naa0: lo.lu.naa, naa1: lu1.naa, lu1, dev1 };
}

const xcopy = (lo: Loopback, list: Buffer, nexus = Y, lun = 0) =>
  lo.run({ cdb: xcopyCdb(list.length), dataOut: list, nexus, lun });

describe('EXTENDED COPY through the gate: reservations', () => {
  it('into an LU another initiator holds under Write Exclusive: RESERVATION CONFLICT, data unchanged', async () => {
    const { lo, naa0, naa1, dev1 } = await setup();
    await lo.writeMedium(0, pattern(16 * BS, 3));
    const before = await dev1.read(0, 16 * BS);
    expect((await lo.run({ ...prOut(0, 0, 0n, 0xaan), nexus: X, lun: 1 })).status).toBe(Status.GOOD);
    expect((await lo.run({ ...prOut(1, 1, 0xaan), nexus: X, lun: 1 })).status).toBe(Status.GOOD);
    // Y's own WRITE to LUN 1 conflicts; so must its copy into LUN 1.
    const direct = await lo.run({ cdb: cdb.rw(0x8a, 0, 16), dataOut: pattern(16 * BS, 3), nexus: Y, lun: 1 });
    expect(direct.status).toBe(Status.RESERVATION_CONFLICT);
    const c = await xcopy(lo, copyList(naa0, naa1, 16, 0, 0));
    expect(c.status, c.sense ? kcq(c) : '').toBe(Status.RESERVATION_CONFLICT);
    expect((await dev1.read(0, 16 * BS)).equals(before)).toBe(true);
    // The holder itself copies.
    expect((await xcopy(lo, copyList(naa0, naa1, 16, 0, 0), X)).status).toBe(Status.GOOD);
    expect((await dev1.read(0, 16 * BS)).equals(pattern(16 * BS, 3))).toBe(true);
  });

  it('from an LU another initiator holds under Exclusive Access: RESERVATION CONFLICT', async () => {
    const { lo, naa0, naa1, dev1 } = await setup();
    expect((await lo.run({ ...prOut(0, 0, 0n, 0xbbn), nexus: X, lun: 1 })).status).toBe(Status.GOOD);
    expect((await lo.run({ ...prOut(1, 3, 0xbbn), nexus: X, lun: 1 })).status).toBe(Status.GOOD);
    await dev1.write(0, pattern(8 * BS, 5), false);
    const c = await xcopy(lo, copyList(naa1, naa0, 8, 0, 0));
    expect(c.status, c.sense ? kcq(c) : '').toBe(Status.RESERVATION_CONFLICT);
    expect((await lo.readMedium(0, 8)).equals(pattern(8 * BS, 5))).toBe(false);
  });
});

describe('EXTENDED COPY through the gate: ALUA state and forwarding', () => {
  for (const state of ['standby', 'unavailable', 'transitioning'] as const) {
    it(`from an LU whose port is ${state}: COPY TARGET DEVICE NOT REACHABLE, nothing copied`, async () => {
      const { lo, naa0, naa1, dev1 } = await setup(new Port(state));
      await dev1.write(0, pattern(8 * BS, 7), false); // this node's copy, maybe stale
      const c = await xcopy(lo, copyList(naa1, naa0, 8, 0, 0));
      expect(kcq(c)).toBe('0a/0d/02');
      // The field pointer names the segment's SOURCE CSCD DESCRIPTOR INDEX.
      expect(decodeSense(c.sense!).field).toEqual({ inCdb: false, byte: COPY_LIST_SEGMENT + 4 });
      expect((await lo.readMedium(0, 8)).equals(pattern(8 * BS, 7))).toBe(false);
    });

    it(`into an LU whose port is ${state}: COPY TARGET DEVICE NOT REACHABLE, nothing written`, async () => {
      const { lo, naa0, naa1, dev1 } = await setup(new Port(state));
      await lo.writeMedium(0, pattern(8 * BS, 8));
      const c = await xcopy(lo, copyList(naa0, naa1, 8, 0, 0));
      expect(kcq(c)).toBe('0a/0d/02');
      expect(decodeSense(c.sense!).field).toEqual({ inCdb: false, byte: COPY_LIST_SEGMENT + 6 });
      expect((await dev1.read(0, 8 * BS)).equals(Buffer.alloc(8 * BS))).toBe(true);
    });
  }

  it('from an Active/Non-optimized LU: the reads go to the primary as the issuing nexus, never the local copy', async () => {
    const primaryCopy = pattern(1024 * BS, 9);
    const primary = new FakePrimary(primaryCopy);
    const { lo, naa0, naa1, dev1 } = await setup(new Port('active-non-optimized'), primary);
    await dev1.write(0, pattern(64 * BS, 10), false); // stale here
    const c = await xcopy(lo, copyList(naa1, naa0, 64, 0, 0));
    expect(c.status, c.sense ? kcq(c) : '').toBe(Status.GOOD);
    expect((await lo.readMedium(0, 64)).equals(primaryCopy.subarray(0, 64 * BS))).toBe(true);
    expect(primary.seen.map((f) => [f.cdb[0], f.lun, f.nexus.initiatorName])).toEqual([
      [0x88, 1, Y.initiatorName],
    ]);
  });

  it('into an Active/Non-optimized LU: the writes go to the primary, the local copy is not written', async () => {
    const primary = new FakePrimary(Buffer.alloc(1024 * BS));
    const { lo, naa0, naa1, dev1 } = await setup(new Port('active-non-optimized'), primary);
    await lo.writeMedium(0, pattern(32 * BS, 11));
    const c = await xcopy(lo, copyList(naa0, naa1, 32, 0, 100));
    expect(c.status, c.sense ? kcq(c) : '').toBe(Status.GOOD);
    expect(primary.medium.subarray(100 * BS, 132 * BS).equals(pattern(32 * BS, 11))).toBe(true);
    expect((await dev1.read(100 * BS, 32 * BS)).equals(Buffer.alloc(32 * BS))).toBe(true);
    expect(primary.seen.map((f) => [f.cdb[0], f.lun, f.nexus.initiatorName, f.dataOut.length])).toEqual([
      [0x8a, 1, Y.initiatorName, 32 * BS],
    ]);
  });
});

describe('EXTENDED COPY through the gate: unit attentions', () => {
  it("leaves the copy target's pending unit attention for the initiator's own next command", async () => {
    const { lo, naa0, naa1, lu1 } = await setup();
    lu1.unitAttentions.establish(Y.id, { name: 'MODE_PARAMETERS_CHANGED' });
    expect((await xcopy(lo, copyList(naa0, naa1, 8, 0, 0))).status).toBe(Status.GOOD);
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady(), nexus: Y, lun: 1 }))).toBe('06/2a/01');
  });
});
