// Issue #4, check 2: persistent reservations are cluster state (DESIGN.md safety rule 7). Two
// initiators register, one through the primary node and one through the other node; the one on
// the other node reserves WRITE EXCLUSIVE; through the primary the first initiator's writes then
// fail with RESERVATION CONFLICT while its reads succeed; a PREEMPT through the primary is visible
// through the other node the moment it returns, and the preempted nexus gets REGISTRATIONS
// PREEMPTED (06h/2Ah/05h).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../helpers/cluster.js';
import {
  type IscsiInitiator,
  inquiryVpd,
  PrOutAction,
  PrType,
  read16,
  reportTargetPortGroups,
  testUnitReady,
  write16,
} from '../helpers/initiator/index.js';
import {
  decodeDeviceIdentification,
  decodeRtpg,
  describeResult,
  openSession,
  prOut,
  readKeys,
  readReservation,
} from '../helpers/multipath.js';
import { Status as ScsiStatus } from '../helpers/wire.js';

const INIT1 = 'iqn.2026-11.org.tandem.test:pr-one';
const INIT2 = 'iqn.2026-11.org.tandem.test:pr-two';
const OBSERVER = 'iqn.2026-11.org.tandem.test:pr-observer';
const KEY1 = 0x1111_0000_0000_0001n;
const KEY2 = 0x2222_0000_0000_0002n;
const BLOCK = 512;

const sorted = (keys: bigint[]) => [...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

describe('persistent reservations across two nodes', () => {
  let cluster: Cluster;
  /** INIT1 through the primary node. */
  let one: IscsiInitiator;
  /** INIT2 through the other node. */
  let two: IscsiInitiator;
  /** An unregistered initiator on the other node, to look at the state through it. */
  let observer: IscsiInitiator;
  let primary: string;
  let other: string;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2 });
    // Which node is primary: the one whose own target port group RTPG reports A/O.
    for (const n of cluster.nodes) {
      const { session } = await openSession({
        host: n.host,
        port: n.port,
        target: cluster.target,
        initiatorName: OBSERVER,
      });
      const vpd = await session.scsi(0, inquiryVpd(0x83, 1024), { expectedDataIn: 1024 });
      const rt = await session.scsi(0, reportTargetPortGroups(1024), { expectedDataIn: 1024 });
      const tpg = decodeDeviceIdentification(vpd.data).targetPortGroupId;
      if (decodeRtpg(rt.data).groups.find((g) => g.targetPortGroupId === tpg)?.state === 'active-optimized')
        primary = n.name;
      session.close();
    }
    expect(primary, 'one node reports its own group Active/Optimized').toBeDefined();
    other = cluster.names.find((n) => n !== primary)!;
    const P = cluster.node(primary);
    const O = cluster.node(other);
    one = (await openSession({ host: P.host, port: P.port, target: cluster.target, initiatorName: INIT1 }))
      .session;
    two = (await openSession({ host: O.host, port: O.port, target: cluster.target, initiatorName: INIT2 }))
      .session;
    observer = (
      await openSession({ host: O.host, port: O.port, target: cluster.target, initiatorName: OBSERVER })
    ).session;
  });

  afterAll(async () => {
    for (const s of [one, two, observer]) s?.close();
    await cluster?.destroy();
  });

  it('each initiator registers through its own node; both nodes list both keys', async () => {
    const r1 = await prOut(one, PrOutAction.REGISTER, { serviceActionKey: KEY1 });
    expect(describeResult(r1), `REGISTER ${INIT1} through ${primary}`).toBe('GOOD');
    const r2 = await prOut(two, PrOutAction.REGISTER, { serviceActionKey: KEY2 });
    expect(describeResult(r2), `REGISTER ${INIT2} through ${other}`).toBe('GOOD');

    const viaPrimary = await readKeys(one);
    const viaOther = await readKeys(observer);
    expect(describeResult(viaPrimary.result)).toBe('GOOD');
    expect(describeResult(viaOther.result)).toBe('GOOD');
    expect(sorted(viaPrimary.keys)).toEqual([KEY1, KEY2]);
    expect(sorted(viaOther.keys)).toEqual([KEY1, KEY2]);
    expect(viaOther.generation, 'PRgeneration is the same through both nodes').toBe(viaPrimary.generation);
  });

  it(`the initiator on the other node reserves WRITE EXCLUSIVE; through the primary the other initiator's writes conflict, reads succeed`, async () => {
    const res = await prOut(two, PrOutAction.RESERVE, { key: KEY2, type: PrType.WRITE_EXCLUSIVE });
    expect(describeResult(res), `RESERVE WE by ${INIT2} through ${other}`).toBe('GOOD');

    const rr = await readReservation(one);
    expect(rr.reservation, 'READ RESERVATION through the primary').toEqual({
      key: KEY2,
      scope: 0,
      type: PrType.WRITE_EXCLUSIVE,
    });

    const w = await one.scsi(0, write16(0, 8), { dataOut: Buffer.alloc(8 * BLOCK, 0x11) });
    expect(describeResult(w), `WRITE by ${INIT1} through ${primary}`).toBe('RESERVATION CONFLICT');
    const r = await one.scsi(0, read16(0, 8), { expectedDataIn: 8 * BLOCK });
    expect(describeResult(r), `READ by ${INIT1} through ${primary}`).toBe('GOOD');

    // The holder writes (through the other node: forwarded to the primary).
    const hw = await two.scsi(0, write16(0, 8), { dataOut: Buffer.alloc(8 * BLOCK, 0x22) });
    expect(describeResult(hw), `WRITE by the holder ${INIT2} through ${other}`).toBe('GOOD');
  });

  it('a PREEMPT through the primary is visible through the other node the moment it returns; the preempted nexus gets REGISTRATIONS PREEMPTED', async () => {
    const p = await prOut(one, PrOutAction.PREEMPT, {
      key: KEY1,
      serviceActionKey: KEY2,
      type: PrType.WRITE_EXCLUSIVE,
    });
    expect(describeResult(p), `PREEMPT by ${INIT1} through ${primary}`).toBe('GOOD');
    // No pause: safety rule 7 says GOOD comes only after every live node applied the state.
    const keys = await readKeys(observer);
    const res = await readReservation(observer);
    expect(describeResult(keys.result)).toBe('GOOD');
    expect(keys.keys, `READ KEYS through ${other} right after the PREEMPT`).toEqual([KEY1]);
    expect(res.reservation, `READ RESERVATION through ${other} right after the PREEMPT`).toEqual({
      key: KEY1,
      scope: 0,
      type: PrType.WRITE_EXCLUSIVE,
    });

    const ua = await two.scsi(0, testUnitReady());
    expect(describeResult(ua), `${INIT2}'s next command through ${other}`).toBe(
      'CHECK CONDITION 06h/2Ah/05h',
    );

    // INIT2 is no longer registered: its writes conflict, its reads do not; INIT1 holds it now.
    const w2 = await two.scsi(0, write16(8, 8), { dataOut: Buffer.alloc(8 * BLOCK, 0x22) });
    expect(describeResult(w2)).toBe('RESERVATION CONFLICT');
    const r2 = await two.scsi(0, read16(8, 8), { expectedDataIn: 8 * BLOCK });
    expect(describeResult(r2)).toBe('GOOD');
    const w1 = await one.scsi(0, write16(8, 8), { dataOut: Buffer.alloc(8 * BLOCK, 0x11) });
    expect(describeResult(w1)).toBe('GOOD');
    expect(w1.status).toBe(ScsiStatus.GOOD);
  });

  it('the holder releases through the primary; the other node agrees at once', async () => {
    const rel = await prOut(one, PrOutAction.RELEASE, { key: KEY1, type: PrType.WRITE_EXCLUSIVE });
    expect(describeResult(rel)).toBe('GOOD');
    const res = await readReservation(observer);
    expect(describeResult(res.result)).toBe('GOOD');
    expect(res.reservation).toBeUndefined();
    const clear = await prOut(one, PrOutAction.CLEAR, { key: KEY1 });
    expect(describeResult(clear)).toBe('GOOD');
    expect((await readKeys(observer)).keys).toEqual([]);
  });
});
