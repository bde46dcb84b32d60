// Task management (SAM-5 7; RFC 7143 11.5) and I_T nexus loss: aborted tasks complete as
// aborted (no response is sent for them) before the TMF reports FUNCTION COMPLETE.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  Attr,
  cdb,
  isSettled,
  Loopback,
  makeNexus,
  pattern,
  Tmf,
  TmfResult,
} from '../../helpers/loopback.js';
import { kcq, Status } from '../../helpers/wire.js';

const BS = 512;

// A broken abort path hangs rather than fails: keep the wait short.
describe('task management', { timeout: 5000 }, () => {
  let lo: Loopback;
  const A = makeNexus('iqn.2024-01.org.tandem:a', '400001370a0a');
  const B = makeNexus('iqn.2024-01.org.tandem:b', '400001370b0b');
  beforeEach(async () => {
    lo = new Loopback();
    await lo.ready(A);
    await lo.ready(B);
  });

  function heldWrite(nexus = A, lba = 1, tag?: number) {
    return lo.command({
      cdb: cdb.rw(0x2a, lba, 1),
      dataOut: pattern(BS, 3),
      hold: true,
      nexus,
      ...(tag === undefined ? {} : { tag }),
    });
  }
  const blockIsZero = async (lba: number, nexus = A) =>
    (await lo.run({ cdb: cdb.rw(0x28, lba, 1), nexus })).data!.equals(Buffer.alloc(BS));

  it('ABORT TASK of a task blocked in receiveDataOut: the task ends aborted, then FUNCTION COMPLETE', async () => {
    const w = heldWrite(A, 1, 100);
    const pw = lo.start(w);
    await w.dataOutRequested;
    const tmf = lo.tmf(Tmf.ABORT_TASK, { nexus: A, referencedTag: 100 });
    expect(await tmf).toBe(TmfResult.FUNCTION_COMPLETE);
    // By the time the TMF answers, the task has finished (its completion is already due).
    expect(await isSettled(pw)).toBe(true);
    const c = await pw;
    expect(c.aborted).toBe(true);
    expect(c.status).toBe(Status.TASK_ABORTED);
    expect(c.sense).toBeUndefined();
    expect(w.aborted).toBe(true);
    expect(await blockIsZero(1)).toBe(true);
    // The LU goes on serving the nexus with no unit attention.
    expect((await lo.run({ cdb: cdb.testUnitReady(), nexus: A })).status).toBe(Status.GOOD);
  });

  it('ABORT TASK only matches the tag on the issuing nexus', async () => {
    const w = heldWrite(B, 1, 100);
    const pw = lo.start(w);
    await w.dataOutRequested;
    expect(await lo.tmf(Tmf.ABORT_TASK, { nexus: A, referencedTag: 100 })).toBe(TmfResult.FUNCTION_COMPLETE);
    expect(await isSettled(pw)).toBe(false);
    expect(w.aborted).toBe(false);
    w.release();
    expect((await pw).status).toBe(Status.GOOD);
    expect(await blockIsZero(1)).toBe(false);
  });

  it('ABORT TASK of an unknown tag is FUNCTION COMPLETE; on a missing LUN, LUN DOES NOT EXIST', async () => {
    expect(await lo.tmf(Tmf.ABORT_TASK, { referencedTag: 12345 })).toBe(TmfResult.FUNCTION_COMPLETE);
    expect(await lo.tmf(Tmf.ABORT_TASK, { lun: 9, referencedTag: 1 })).toBe(TmfResult.LUN_DOES_NOT_EXIST);
  });

  it('ABORT TASK of a task still waiting behind an ORDERED task aborts it without running it', async () => {
    const w = heldWrite(A, 1);
    const pw = lo.start(w);
    await w.dataOutRequested;
    const late = lo.command({
      cdb: cdb.rw(0x2a, 2, 1),
      dataOut: pattern(BS),
      nexus: A,
      attribute: Attr.ORDERED,
      tag: 77,
    });
    const pl = lo.start(late);
    const tmf = lo.tmf(Tmf.ABORT_TASK, { nexus: A, referencedTag: 77 });
    w.release();
    expect(await tmf).toBe(TmfResult.FUNCTION_COMPLETE);
    expect((await pl).aborted).toBe(true);
    expect(late.dataOutRequests).toEqual([]);
    expect((await pw).status).toBe(Status.GOOD);
    expect(await blockIsZero(2)).toBe(true);
  });

  it('LOGICAL UNIT RESET aborts every task of every nexus and raises 06/29/03 on each', async () => {
    const wa = heldWrite(A, 1);
    const wb = heldWrite(B, 2);
    const pa = lo.start(wa);
    const pb = lo.start(wb);
    await Promise.all([wa.dataOutRequested, wb.dataOutRequested]);
    expect(await lo.tmf(Tmf.LOGICAL_UNIT_RESET, { nexus: A })).toBe(TmfResult.FUNCTION_COMPLETE);
    expect(await isSettled(pa)).toBe(true);
    expect((await pa).aborted).toBe(true);
    expect((await pb).aborted).toBe(true);
    for (const n of [A, B]) {
      expect(kcq(await lo.run({ cdb: cdb.testUnitReady(), nexus: n }))).toBe('06/29/03');
      expect((await lo.run({ cdb: cdb.testUnitReady(), nexus: n })).status).toBe(Status.GOOD);
    }
    expect(await blockIsZero(1)).toBe(true);
    expect(await blockIsZero(2)).toBe(true);
  });

  it('LOGICAL UNIT RESET leaves other LUs alone', async () => {
    lo.addLun(1);
    await lo.run({ cdb: cdb.testUnitReady(), nexus: A }); // REPORTED LUNS DATA HAS CHANGED on LUN 0
    await lo.ready(A, 1);
    expect(await lo.tmf(Tmf.LOGICAL_UNIT_RESET, { nexus: A, lun: 0 })).toBe(TmfResult.FUNCTION_COMPLETE);
    expect((await lo.run({ cdb: cdb.testUnitReady(), nexus: A, lun: 1 })).status).toBe(Status.GOOD);
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady(), nexus: A, lun: 0 }))).toBe('06/29/03');
  });

  it('LOGICAL UNIT RESET of a missing LUN → LUN DOES NOT EXIST', async () => {
    expect(await lo.tmf(Tmf.LOGICAL_UNIT_RESET, { lun: 4 })).toBe(TmfResult.LUN_DOES_NOT_EXIST);
  });

  it("ABORT TASK SET aborts the issuing nexus's tasks only", async () => {
    const wa = heldWrite(A, 1);
    const wb = heldWrite(B, 2);
    const pa = lo.start(wa);
    const pb = lo.start(wb);
    await Promise.all([wa.dataOutRequested, wb.dataOutRequested]);
    expect(await lo.tmf(Tmf.ABORT_TASK_SET, { nexus: A })).toBe(TmfResult.FUNCTION_COMPLETE);
    expect((await pa).aborted).toBe(true);
    expect(await isSettled(pb)).toBe(false);
    wb.release();
    expect((await pb).status).toBe(Status.GOOD);
  });

  it("CLEAR TASK SET aborts everyone's tasks; the other nexus learns it from 06/2F/00 (TAS = 0)", async () => {
    const wa = heldWrite(A, 1);
    const wb = heldWrite(B, 2);
    const pa = lo.start(wa);
    const pb = lo.start(wb);
    await Promise.all([wa.dataOutRequested, wb.dataOutRequested]);
    expect(await lo.tmf(Tmf.CLEAR_TASK_SET, { nexus: A })).toBe(TmfResult.FUNCTION_COMPLETE);
    expect((await pa).aborted).toBe(true);
    expect((await pb).aborted).toBe(true);
    expect((await lo.run({ cdb: cdb.testUnitReady(), nexus: A })).status).toBe(Status.GOOD);
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady(), nexus: B }))).toBe('06/2f/00');
  });

  it.each([3, 8, 9, 10, 11, 12])('TMF function %i is not supported', async (fn) => {
    expect(await lo.tmf(fn)).toBe(TmfResult.NOT_SUPPORTED);
  });

  it("nexusLost aborts that nexus's tasks only", async () => {
    const wa = heldWrite(A, 1);
    const wb = heldWrite(B, 2);
    const pa = lo.start(wa);
    const pb = lo.start(wb);
    await Promise.all([wa.dataOutRequested, wb.dataOutRequested]);
    lo.target.nexusLost(A, 'connection-loss');
    const ca = await pa;
    expect(ca.aborted).toBe(true);
    expect(ca.status).toBe(Status.TASK_ABORTED);
    expect(wa.aborted).toBe(true);
    expect(wb.aborted).toBe(false);
    expect(await isSettled(pb)).toBe(false);
    wb.release();
    expect((await pb).status).toBe(Status.GOOD);
    expect(await blockIsZero(1, B)).toBe(true);
    expect(await blockIsZero(2, B)).toBe(false);
  });
});
