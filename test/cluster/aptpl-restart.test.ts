// Issue #4, check 5: persistent reservation state registered with APTPL=1 survives a restart of
// every node (SIGKILL, then start again; etcd keeps running), and a restart of the whole cluster,
// etcd included (`cluster down` + `cluster up` on the same dir: etcd's data persists). READ KEYS
// and READ RESERVATION through every node are unchanged, and the same I_T nexuses (same initiator
// name and ISID through the same node) are still registered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, type ClusterOptions, startCluster } from '../helpers/cluster.js';
import { type IscsiInitiator, PrOutAction, PrType, write16 } from '../helpers/initiator/index.js';
import {
  describeResult,
  openSession,
  prOut,
  readKeys,
  readReservation,
  reportCapabilities,
} from '../helpers/multipath.js';

const INIT1 = 'iqn.2026-11.org.tandem.test:aptpl-one';
const INIT2 = 'iqn.2026-11.org.tandem.test:aptpl-two';
const ISID1 = '023d00000001';
const ISID2 = '023d00000002';
const KEY1 = 0xa1a1_a1a1n;
const KEY2 = 0xb2b2_b2b2n;
const BLOCK = 512;
const OPTIONS: ClusterOptions = { nodes: 2 };

const sorted = (keys: bigint[]) => [...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

describe('APTPL: reservations survive restarting every node', () => {
  let cluster: Cluster;
  const open: IscsiInitiator[] = [];

  /** INIT1 through node a, INIT2 through node b, always with the same ISIDs (same I_T nexuses). */
  async function sessions(): Promise<[IscsiInitiator, IscsiInitiator]> {
    for (const s of open.splice(0)) s.close();
    const a = cluster.node('a');
    const b = cluster.node('b');
    const one = (
      await openSession({
        host: a.host,
        port: a.port,
        target: cluster.target,
        initiatorName: INIT1,
        isid: ISID1,
      })
    ).session;
    const two = (
      await openSession({
        host: b.host,
        port: b.port,
        target: cluster.target,
        initiatorName: INIT2,
        isid: ISID2,
      })
    ).session;
    open.push(one, two);
    return [one, two];
  }

  /** What every node must keep answering. */
  async function expectState(when: string): Promise<void> {
    const [one, two] = await sessions();
    for (const [name, s] of [
      ['a', one],
      ['b', two],
    ] as const) {
      const keys = await readKeys(s);
      expect(describeResult(keys.result), `${when}: READ KEYS through ${name}`).toBe('GOOD');
      expect(sorted(keys.keys), `${when}: READ KEYS through ${name}`).toEqual([KEY1, KEY2]);
      const res = await readReservation(s);
      expect(res.reservation, `${when}: READ RESERVATION through ${name}`).toEqual({
        key: KEY1,
        scope: 0,
        type: PrType.WRITE_EXCLUSIVE,
      });
      const caps = await reportCapabilities(s);
      expect(caps.ptplA, `${when}: REPORT CAPABILITIES PTPL_A through ${name}`).toBe(true);
    }
    // The nexuses are still registered: the holder writes, the other registrant conflicts.
    const w1 = await one.scsi(0, write16(0, 1), { dataOut: Buffer.alloc(BLOCK, 1) });
    expect(describeResult(w1), `${when}: WRITE by the holder ${INIT1}`).toBe('GOOD');
    const w2 = await two.scsi(0, write16(0, 1), { dataOut: Buffer.alloc(BLOCK, 2) });
    expect(describeResult(w2), `${when}: WRITE by ${INIT2} (registered, not the holder)`).toBe(
      'RESERVATION CONFLICT',
    );
  }

  beforeAll(async () => {
    cluster = await startCluster(OPTIONS);
  });

  afterAll(async () => {
    for (const s of open) s.close();
    await cluster?.destroy();
  });

  it('register with APTPL=1 through both nodes and reserve WRITE EXCLUSIVE', async () => {
    const [one, two] = await sessions();
    const caps = await reportCapabilities(one);
    expect(caps.ptplC, 'PTPL_C: the LU can persist through power loss').toBe(true);
    expect(
      describeResult(await prOut(one, PrOutAction.REGISTER, { serviceActionKey: KEY1, aptpl: true })),
    ).toBe('GOOD');
    expect(
      describeResult(await prOut(two, PrOutAction.REGISTER, { serviceActionKey: KEY2, aptpl: true })),
    ).toBe('GOOD');
    expect(
      describeResult(await prOut(one, PrOutAction.RESERVE, { key: KEY1, type: PrType.WRITE_EXCLUSIVE })),
    ).toBe('GOOD');
    await expectState('before any restart');
  });

  it('SIGKILL both nodes, start them again (etcd keeps running): unchanged', async () => {
    for (const s of open.splice(0)) s.close();
    await cluster.kill('a');
    await cluster.kill('b');
    await cluster.start('a');
    await cluster.start('b');
    await expectState('after restarting both nodes');
  });

  it('the whole cluster down and up again, etcd included (its data kept): unchanged', async () => {
    for (const s of open.splice(0)) s.close();
    await cluster.down();
    expect(await cluster.status()).toEqual({ etcd: 'dead', nodes: { a: 'dead', b: 'dead' } });
    await cluster.up(OPTIONS);
    await expectState('after restarting etcd and both nodes');
  });
});
