// Unit attention conditions (SAM-5 5.14, 6.3): the first command of an I_T nexus learns of the
// "power on"; INQUIRY and REPORT LUNS neither report nor clear a UA; REQUEST SENSE reports and
// clears it; everything else is answered CHECK CONDITION with it, once.
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb, Loopback, makeNexus } from '../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../helpers/wire.js';

describe('unit attention', () => {
  let lo: Loopback;
  beforeEach(() => {
    lo = new Loopback();
  });

  it.each([
    ['TEST UNIT READY', cdb.testUnitReady()],
    ['READ(10)', cdb.rw(0x28, 0, 1)],
    ['MODE SENSE(6)', cdb.modeSense6({ page: 0x3f })],
    ['READ CAPACITY(10)', cdb.readCapacity10()],
    ['an unsupported opcode', Buffer.from([0xc0, 0, 0, 0, 0, 0])],
    ['a CDB with a reserved bit set', Buffer.from([0x00, 0xff, 0, 0, 0, 0])],
  ])('the first command of a nexus (%s) gets 06/29/00, the next one runs', async (_n, b) => {
    const c = await lo.run({ cdb: b });
    expect(c.status).toBe(Status.CHECK_CONDITION);
    expect(kcq(c)).toBe('06/29/00');
    expect(c.data).toBeUndefined();
    expect((await lo.run({ cdb: cdb.testUnitReady() })).status).toBe(Status.GOOD);
  });

  it('the first WRITE gets the UA and its data-out is never requested', async () => {
    const cmd = lo.command({ cdb: cdb.rw(0x2a, 0, 1), dataOut: Buffer.alloc(512, 0xaa) });
    expect(kcq(await lo.start(cmd))).toBe('06/29/00');
    expect(cmd.dataOutRequests).toEqual([]);
    expect((await lo.run({ cdb: cdb.rw(0x28, 0, 1) })).data!.equals(Buffer.alloc(512))).toBe(true);
  });

  it('INQUIRY does not report or clear it', async () => {
    for (let i = 0; i < 3; i++) expect((await lo.run({ cdb: cdb.inquiry(96) })).status).toBe(Status.GOOD);
    for (const page of [0x00, 0x83])
      expect((await lo.run({ cdb: cdb.inquiry(255, page) })).status).toBe(Status.GOOD);
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady() }))).toBe('06/29/00');
  });

  it('REPORT LUNS does not report or clear it', async () => {
    for (let i = 0; i < 3; i++) expect((await lo.run({ cdb: cdb.reportLuns(64) })).status).toBe(Status.GOOD);
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady() }))).toBe('06/29/00');
  });

  it('REQUEST SENSE returns it with GOOD and clears it', async () => {
    const c = await lo.run({ cdb: cdb.requestSense(18) });
    expect(c.status).toBe(Status.GOOD);
    const s = decodeSense(c.data!);
    expect([s.format, s.key, s.asc, s.ascq]).toEqual(['fixed', 0x06, 0x29, 0x00]);
    const again = decodeSense((await lo.run({ cdb: cdb.requestSense(18) })).data!);
    expect([again.key, again.asc, again.ascq]).toEqual([0, 0, 0]);
    expect((await lo.run({ cdb: cdb.testUnitReady() })).status).toBe(Status.GOOD);
  });

  it('REQUEST SENSE with DESC=1 returns it in descriptor format', async () => {
    const s = decodeSense((await lo.run({ cdb: cdb.requestSense(252, true) })).data!);
    expect([s.format, s.key, s.asc, s.ascq]).toEqual(['descriptor', 0x06, 0x29, 0x00]);
  });

  it('each nexus has its own: clearing one leaves the other pending', async () => {
    const other = makeNexus('iqn.2024-01.org.tandem:second', '400001370002');
    await lo.ready();
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady(), nexus: other }))).toBe('06/29/00');
    expect((await lo.run({ cdb: cdb.testUnitReady(), nexus: other })).status).toBe(Status.GOOD);
  });

  it('the same initiator through another target port is another nexus with its own UA', async () => {
    await lo.ready();
    const viaPort2 = makeNexus(undefined, undefined, { ...lo.nexus.targetPort, relativePortId: 2 });
    expect(viaPort2.id).not.toBe(lo.nexus.id);
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady(), nexus: viaPort2 }))).toBe('06/29/00');
  });

  it('adding a LUN raises REPORTED LUNS DATA HAS CHANGED (3Fh/0Eh) on the nexuses that know the target', async () => {
    await lo.ready();
    lo.addLun(1);
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady() }))).toBe('06/3f/0e');
    expect((await lo.run({ cdb: cdb.testUnitReady() })).status).toBe(Status.GOOD);
  });

  it('a lost nexus that comes back is told about the "power on" again', async () => {
    await lo.ready();
    lo.target.nexusLost(lo.nexus, 'logout');
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady() }))).toBe('06/29/00');
  });

  it('with D_SENSE=1 the UA is reported in descriptor format', async () => {
    lo.lu.mode.dSense = true;
    const c = await lo.run({ cdb: cdb.testUnitReady() });
    const s = decodeSense(c.sense!);
    expect([s.format, s.key, s.asc, s.ascq]).toEqual(['descriptor', 6, 0x29, 0]);
  });
});
