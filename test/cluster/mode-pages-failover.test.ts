// Issue 14, finding 6, end to end on a 2-node cluster: the write cache an initiator turned off
// (WCE = 0) stays off through a failover, and the change reaches the nexuses logged in to the
// other node as MODE PARAMETERS CHANGED. Before the fix the mode pages were each process's
// memory: the node that took over reported (and used) WCE = 1, with no unit attention, so
// writes the initiator believed written through sat in the page cache.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../helpers/cluster.js';
import { type IscsiInitiator, modeSense6, testUnitReady } from '../helpers/initiator/index.js';
import { describeResult, openSession } from '../helpers/multipath.js';
import { Status } from '../helpers/wire.js';

const CACHING = 0x08;

/** MODE SENSE(6) of the caching page (DBD = 1): the result and the page bytes when GOOD. */
async function cachingPage(s: IscsiInitiator) {
  const r = await s.scsi(0, modeSense6({ page: CACHING, dbd: true }), { expectedDataIn: 255 });
  const d = r.data;
  const page =
    r.status === Status.GOOD ? Buffer.from(d.subarray(4 + d[3]!, 4 + d[3]! + 2 + d[5 + d[3]!]!)) : undefined;
  return { r, page };
}

/** The caching page once the node answers GOOD again (after a failover), within `ms`. */
async function cachingPageWhenServed(s: IscsiInitiator, ms: number): Promise<Buffer> {
  const until = Date.now() + ms;
  let last = '';
  while (Date.now() < until) {
    const { r, page } = await cachingPage(s);
    if (page) return page;
    last = describeResult(r);
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`MODE SENSE never answered GOOD; last: ${last}`);
}

/** Polls TEST UNIT READY until it reports a unit attention (or `ms` pass): its sense as text. */
async function nextUnitAttention(s: IscsiInitiator, ms: number): Promise<string> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const r = await s.scsi(0, testUnitReady());
    if (r.status === Status.CHECK_CONDITION && r.sense?.key === 6) return describeResult(r);
    await new Promise((res) => setTimeout(res, 50));
  }
  return 'none';
}

describe('finding 6: mode parameters survive a failover and reach every node', () => {
  let cluster: Cluster;
  const open: IscsiInitiator[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2 });
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await cluster?.destroy();
  });

  it("finding 6: WCE = 0 set through a is reported through b after SIGKILL of a, and b's nexus got 06/2A/01", async () => {
    const [a, b] = cluster.names as [string, string];
    const na = cluster.node(a);
    const nb = cluster.node(b);
    const { session: sa } = await openSession({
      host: na.host,
      port: na.port,
      target: cluster.target,
      initiatorName: 'iqn.2026-12.org.tandem.test:modes-x',
    });
    const { session: sb } = await openSession({
      host: nb.host,
      port: nb.port,
      target: cluster.target,
      initiatorName: 'iqn.2026-12.org.tandem.test:modes-y',
    });
    open.push(sa, sb);
    const { page } = await cachingPage(sa);
    expect(page, 'MODE SENSE through a').toBeDefined();
    expect(page![2]! & 0x04, 'WCE = 1 by default').toBe(0x04);

    page![2]! &= ~0x04;
    const list = Buffer.concat([Buffer.alloc(4), page!]);
    const sel = await sa.scsi(0, Buffer.from([0x15, 0x10, 0, 0, list.length, 0]), { dataOut: list });
    expect(sel.status, describeResult(sel)).toBe(Status.GOOD);

    // SPC-4 7.5.1: the other I_T nexus learns it, although it is logged in to the other node.
    expect(await nextUnitAttention(sb, 5000)).toBe('CHECK CONDITION 06h/2Ah/01h');
    expect((await cachingPageWhenServed(sb, 5000))[2]! & 0x04, 'WCE through b').toBe(0);

    await cluster.kill(a);
    // b takes over (lease TTL 5 s); its own LU now answers, from the cluster's state.
    const after = await cachingPageWhenServed(sb, 30_000);
    expect(after[2]! & 0x04, 'WCE through b after the failover').toBe(0);
  }, 90_000);
});
