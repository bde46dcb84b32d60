// Task attributes (SAM-5 8.6, one task set per LU, TST = 000b): SIMPLE tasks run concurrently,
// an ORDERED task waits for every earlier task and holds back every later one, HEAD OF QUEUE
// runs at once.
import { beforeEach, describe, expect, it } from 'vitest';
import { Attr, cdb, isSettled, Loopback, makeNexus, pattern, type Result } from '../../helpers/loopback.js';
import { kcq, Status } from '../../helpers/wire.js';

const BS = 512;

// A task that never runs hangs rather than fails: keep the wait short.
describe('task attributes', { timeout: 5000 }, () => {
  let lo: Loopback;
  let order: string[];
  beforeEach(async () => {
    lo = new Loopback();
    await lo.ready();
    order = [];
  });

  function track(name: string, p: Promise<Result>): Promise<Result> {
    return p.then((c) => {
      order.push(name);
      return c;
    });
  }

  function heldWrite(lba: number, attribute: number = Attr.SIMPLE, nexus = lo.nexus) {
    return lo.command({ cdb: cdb.rw(0x2a, lba, 1), dataOut: pattern(BS, lba), hold: true, attribute, nexus });
  }

  it('SIMPLE tasks run concurrently: three writes are all waiting for data-out at once', async () => {
    const cmds = [heldWrite(1), heldWrite(2), heldWrite(3)];
    const runs = cmds.map((c) => lo.start(c));
    await Promise.all(cmds.map((c) => c.dataOutRequested));
    expect(cmds.map((c) => c.dataOutRequests.length)).toEqual([1, 1, 1]);
    for (const c of cmds.reverse()) c.release();
    expect((await Promise.all(runs)).map((r) => r.status)).toEqual([0, 0, 0]);
  });

  it('a SIMPLE TEST UNIT READY completes while an earlier SIMPLE write is still blocked', async () => {
    const w = heldWrite(1);
    const pw = lo.start(w);
    await w.dataOutRequested;
    expect((await lo.run({ cdb: cdb.testUnitReady(), attribute: Attr.SIMPLE })).status).toBe(Status.GOOD);
    w.release();
    await pw;
  });

  it('ORDERED waits for earlier tasks; later SIMPLE tasks wait for the ORDERED one', async () => {
    const w = heldWrite(1);
    const pw = track('write', lo.start(w));
    await w.dataOutRequested;
    const po = track('ordered', lo.run({ cdb: cdb.testUnitReady(), attribute: Attr.ORDERED }));
    const ps = track('simple-after', lo.run({ cdb: cdb.testUnitReady(), attribute: Attr.SIMPLE }));
    expect(await isSettled(po)).toBe(false);
    expect(await isSettled(ps)).toBe(false);
    w.release();
    await Promise.all([pw, po, ps]);
    expect(order).toEqual(['write', 'ordered', 'simple-after']);
  });

  it('an ORDERED write does not start its data-out until the earlier task completed', async () => {
    const first = heldWrite(1);
    const p1 = lo.start(first);
    await first.dataOutRequested;
    const second = heldWrite(2, Attr.ORDERED);
    const p2 = lo.start(second);
    expect(await isSettled(second.dataOutRequested)).toBe(false);
    first.release();
    await p1;
    await second.dataOutRequested;
    second.release();
    expect((await p2).status).toBe(Status.GOOD);
  });

  it('ORDERED waits for tasks of every nexus (one task set for the LU)', async () => {
    const other = makeNexus('iqn.2024-01.org.tandem:other', '400001370009');
    await lo.ready(other);
    const w = heldWrite(1, Attr.SIMPLE, other);
    const pw = lo.start(w);
    await w.dataOutRequested;
    const po = lo.run({ cdb: cdb.testUnitReady(), attribute: Attr.ORDERED });
    expect(await isSettled(po)).toBe(false);
    w.release();
    expect((await po).status).toBe(Status.GOOD);
    await pw;
  });

  it('two ORDERED tasks complete in order', async () => {
    const a = heldWrite(1, Attr.ORDERED);
    const pa = track('a', lo.start(a));
    const pb = track('b', lo.run({ cdb: cdb.testUnitReady(), attribute: Attr.ORDERED }));
    await a.dataOutRequested;
    expect(await isSettled(pb)).toBe(false);
    a.release();
    await Promise.all([pa, pb]);
    expect(order).toEqual(['a', 'b']);
  });

  it('HEAD OF QUEUE runs at once even behind a waiting ORDERED task', async () => {
    const w = heldWrite(1);
    const pw = lo.start(w);
    await w.dataOutRequested;
    const po = lo.run({ cdb: cdb.testUnitReady(), attribute: Attr.ORDERED });
    const ph = await lo.run({ cdb: cdb.testUnitReady(), attribute: Attr.HEAD_OF_QUEUE });
    expect(ph.status).toBe(Status.GOOD);
    expect(await isSettled(po)).toBe(false);
    w.release();
    await Promise.all([pw, po]);
  });

  it('UNTAGGED behaves as SIMPLE', async () => {
    const w = heldWrite(1);
    const pw = lo.start(w);
    await w.dataOutRequested;
    expect((await lo.run({ cdb: cdb.testUnitReady(), attribute: Attr.UNTAGGED })).status).toBe(Status.GOOD);
    w.release();
    await pw;
  });

  it('the ACA attribute without NormACA → 05/49/00 INVALID MESSAGE ERROR', async () => {
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady(), attribute: Attr.ACA }))).toBe('05/49/00');
  });
});
