// Issue 14, finding 9 (PR edges), on a real etcd:
// - after a fence, the new lease's member key is registered asynchronously: a campaign must not
//   win before it, or a node leading a volume counts as fenced (no member key) to a PERSISTENT
//   RESERVE OUT waiting for every live node (awaitReservationsApplied);
// - a PERSISTENT RESERVE OUT whose etcd transaction outcome is unknown answers by the committed
//   state: never an error for a change that is committed, never "another change came first" for
//   its own change.
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Coordinator, CoordinatorEvents, JsonValue } from '../../../src/cluster/coordinator.js';
import { EtcdElection } from '../../../src/cluster/etcd-election.js';
import { EtcdKv, op } from '../../../src/cluster/etcd-kv.js';
import { etcdFaultOptions } from '../../../src/cluster/etcd-retry.js';
import { EtcdSession } from '../../../src/cluster/etcd-session.js';
import { fencingPolicy } from '../../../src/cluster/fencing.js';
import { KeyLayout } from '../../../src/cluster/keys.js';
import { ClusterReservationStore } from '../../../src/cluster/reservation-store.js';
import { TypedEmitter } from '../../../src/cluster/typed-emitter.js';
import { EMPTY_STATE } from '../../../src/scsi/pr/state.js';
import { TandemError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/logger.js';
import { coordinator, freshPrefix } from '../../cluster/support.js';
import { type Etcd, startEtcd } from '../../helpers/etcd.js';

let etcd: Etcd;
let client: Etcd3;
const log = silentLogger();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3({ hosts: [etcd.endpoint], credentials: etcd.credentials, ...etcdFaultOptions() });
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

describe('finding 9: a PR OUT whose etcd outcome is unknown answers by the committed state', () => {
  const change = (generation: number) => ({
    state: { ...EMPTY_STATE, generation },
    unitAttentions: [],
    abort: [],
  });

  /** The real coordinator, with the answers of some calls lost after they ran. */
  async function lossy(name: string) {
    const real = coordinator(etcd, name, freshPrefix());
    await real.start();
    const faults = { loseCasAnswers: 0, retryAsConflict: false, notAppliedRounds: 0 };
    const c = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'compareAndSetReservations') {
          return async (volume: string, rev: number, value: JsonValue) => {
            const r = await target.compareAndSetReservations(volume, rev, value);
            if (faults.loseCasAnswers > 0) {
              faults.loseCasAnswers--;
              // Committed, but the answer is lost: a deadline, a broken connection.
              throw new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'deadline exceeded', {
                retryable: true,
              });
            }
            if (faults.retryAsConflict) {
              faults.retryAsConflict = false;
              // What the KV layer's own retry answers once the first attempt had committed.
              return target.compareAndSetReservations(volume, rev, value);
            }
            return r;
          };
        }
        if (prop === 'awaitReservationsApplied') {
          return async (volume: string, rev: number, nodes: readonly string[], ms: number) => {
            if (faults.notAppliedRounds > 0) {
              faults.notAppliedRounds--;
              await sleep(ms);
              return { applied: [], missing: [...nodes] };
            }
            return target.awaitReservationsApplied(volume, rev, nodes, ms);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    return { c, faults };
  }

  async function store(c: Coordinator, serving: string[] = ['p1']) {
    return ClusterReservationStore.open({
      coordinator: c,
      volume: 'vol',
      servingNodes: () => serving,
      logger: log,
      applyTimeoutMs: 300,
    });
  }

  it('a change committed whose answer was lost resolves true, not an error', async () => {
    const { c, faults } = await lossy('p1');
    const s = await store(c);
    faults.loseCasAnswers = 1;
    await expect(s.compareAndSet(0, change(1))).resolves.toBe(true);
    expect(s.get().state.generation).toBe(1);
    expect((await c.readReservations('vol')).revision).toBe(s.get().revision);
    s.close();
  });

  it('a retry that finds its own committed change resolves true, not "another change came first"', async () => {
    const { c, faults } = await lossy('p1');
    const s = await store(c);
    faults.retryAsConflict = true;
    await expect(s.compareAndSet(0, change(1))).resolves.toBe(true);
    expect(s.get().state.generation).toBe(1);
    s.close();
  });

  it('another node slow to apply a committed change: the answer waits, it is not an error', async () => {
    const { c, faults } = await lossy('p1');
    const s = await store(c, ['p1', 'p2']);
    faults.notAppliedRounds = 1;
    // p2 is not a live member, so the second round finds it fenced (nothing to wait for).
    await expect(s.compareAndSet(0, change(1))).resolves.toBe(true);
    s.close();
  });
});
