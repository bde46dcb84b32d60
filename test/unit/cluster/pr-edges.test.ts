// Issue 14, finding 9 (PR edges), on a real etcd:
// - after a fence, the new lease's member key is registered asynchronously: a campaign must not
//   win before it, or a node leading a volume counts as fenced (no member key) to a PERSISTENT
//   RESERVE OUT waiting for every live node (awaitReservationsApplied);
// - a PERSISTENT RESERVE OUT whose etcd transaction outcome is unknown answers by the committed
//   state: never an error for a change that is committed, never "another change came first" for
//   its own change.
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoordinatorEvents } from '../../../src/cluster/coordinator.js';
import { EtcdElection } from '../../../src/cluster/etcd-election.js';
import { EtcdKv, op } from '../../../src/cluster/etcd-kv.js';
import { etcdFaultOptions } from '../../../src/cluster/etcd-retry.js';
import { EtcdSession } from '../../../src/cluster/etcd-session.js';
import { fencingPolicy } from '../../../src/cluster/fencing.js';
import { KeyLayout } from '../../../src/cluster/keys.js';
import { TypedEmitter } from '../../../src/cluster/typed-emitter.js';
import { silentLogger } from '../../../src/util/logger.js';
import { type Etcd, startEtcd } from '../../helpers/etcd.js';

let etcd: Etcd;
let client: Etcd3;
const log = silentLogger();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3({ hosts: [etcd.endpoint], ...etcdFaultOptions() });
});
afterAll(() => client?.close());

async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('finding 9: a campaign waits for the member key of its lease', () => {
  it('a node whose new lease has no member key yet does not win; it wins once the key is there', async () => {
    const keys = new KeyLayout('/pr-edges-a/');
    const kv = new EtcdKv(client, log);
    const session = new EtcdSession(client, fencingPolicy(3), log);
    const election = new EtcdElection(
      { kv, keys, nodeName: 'n1', logger: log },
      session,
      new TypedEmitter<CoordinatorEvents>(log),
    );
    session.start();
    try {
      const lease = await session.waitLive();
      // A member key left by an older lease (not yet expired) does not count either.
      const old = await client.lease(30, { autoKeepAlive: false }).grant();
      await kv.txn('stale member', { success: [op.put(keys.member('n1'), { name: 'n1' }, old)] });
      election.campaign('v');
      await sleep(1500);
      expect(election.role('v'), 'no member key on this lease: not a leader').toBe('candidate');
      await kv.txn('register', { success: [op.put(keys.member('n1'), { name: 'n1' }, lease.id)] });
      await until('leader', () => election.role('v') === 'leader', 5000);
    } finally {
      await election.closeAll();
      await session.close();
    }
  });
});
