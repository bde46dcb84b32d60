import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  type GovernedReplica,
  ReplicaSetLifecycle,
  type ReplicaSetStore,
} from '../../../src/replication/replica-set-lifecycle.js';

const log = pino({ level: 'silent' });

function fakeStore(initial: { dataset?: string; inSync: string[] }, live: string[]) {
  const set = { dataset: initial.dataset, inSync: [...initial.inSync] };
  const calls: string[] = [];
  const store: ReplicaSetStore = {
    readReplicaSet: async () => ({ dataset: set.dataset, inSync: [...set.inSync] }),
    createReplicaSet: async (_v, d) => {
      calls.push('create');
      if (set.dataset) return false;
      set.dataset = d;
      set.inSync = ['a'];
      return true;
    },
    setInSync: async (_v, epoch, node, inSync) => {
      calls.push(`setInSync ${epoch} ${node} ${inSync}`);
      set.inSync = inSync ? [...new Set([...set.inSync, node])] : set.inSync.filter((n) => n !== node);
    },
    leaveInSync: async () => {
      calls.push('leave');
      set.inSync = set.inSync.filter((n) => n !== 'a');
    },
    leaveInSyncWhile: async (_v, other) => {
      calls.push(`leave while ${other}`);
      if (!set.inSync.includes(other)) return false;
      set.inSync = set.inSync.filter((n) => n !== 'a');
      return true;
    },
    liveNodes: async () => live,
    publishDataClaim: async () => undefined,
    readDataClaims: async () => new Map(),
  };
  return { store, set, calls };
}

function replica(
  datasetId: string,
  valid: boolean,
  intact = valid,
): GovernedReplica & { log: string[]; datasetId: string } {
  const r = {
    log: [] as string[],
    hasValidData: valid,
    intact,
    status: () => ({ datasetId: r.datasetId }),
    datasetId,
    initDataset: async (id: string) => {
      r.log.push('init');
      r.datasetId = id;
      r.hasValidData = true;
    },
    becamePrimary: async (epoch: number) => void r.log.push(`primary ${epoch}`),
    dataGeneration: { era: '', epoch: 0, seq: 0 },
    noteRemoval: async () => undefined,
    knownReplicas: [] as string[],
  };
  return r;
}

describe('ReplicaSetLifecycle', () => {
  it('a new volume: the first node creates the dataset and initializes its store', async () => {
    const { store, set } = fakeStore({ inSync: [] }, ['a']);
    const l = new ReplicaSetLifecycle({ node: 'a', store, logger: log, watchedInSync: () => undefined });
    const r = replica('', false);
    await l.bootstrap('v', r, 'a', async () => expect.fail('the preferred node does not wait'));
    expect(r.log).toEqual(['init']);
    expect(set.dataset).toBe(r.datasetId);
  });

  it('a node that is not preferred waits before creating', async () => {
    const { store } = fakeStore({ inSync: [] }, ['a', 'b']);
    const l = new ReplicaSetLifecycle({ node: 'a', store, logger: log, watchedInSync: () => undefined });
    let waited = false;
    await l.bootstrap('v', replica('', false), 'b', async () => void (waited = true));
    expect(waited).toBe(true);
  });

  it('rule 2: a store etcd lists as in sync but of another dataset leaves the in-sync set', async () => {
    const { store, calls } = fakeStore({ dataset: 'd1', inSync: ['a', 'b'] }, ['a', 'b']);
    const l = new ReplicaSetLifecycle({ node: 'a', store, logger: log, watchedInSync: () => undefined });
    await l.bootstrap('v', replica('d2', true), 'a', async () => undefined);
    expect(calls).toEqual(['leave']);
    const ok = fakeStore({ dataset: 'd1', inSync: ['a', 'b'] }, ['a', 'b']);
    const l2 = new ReplicaSetLifecycle({
      node: 'a',
      store: ok.store,
      logger: log,
      watchedInSync: () => undefined,
    });
    await l2.bootstrap('v', replica('d1', true), 'a', async () => undefined);
    expect(ok.calls).toEqual([]);
  });

  // Regression (chaos seed 954130505, stale reads through b): a primary whose power was cut came
  // back before its lease expired, still in the in-sync set, raced its in-sync peer for the
  // election and won; it served its own copy, which had lost writes it never flushed
  // (acknowledged ones among them), and resynced that copy over the peer's.
  it('a copy that may have lost writes (restarted with dirty regions) steps out while another in-sync member is live', async () => {
    const { store, set, calls } = fakeStore({ dataset: 'd1', inSync: ['a', 'b'] }, ['a', 'b']);
    const l = new ReplicaSetLifecycle({ node: 'a', store, logger: log, watchedInSync: () => undefined });
    await l.bootstrap('v', replica('d1', true, false), 'a', async () => undefined);
    expect(calls).toEqual(['leave while b']);
    expect(set.inSync).toEqual(['b']);
    // No other live member: it stays (the volume's only candidate; availability).
    const alone = fakeStore({ dataset: 'd1', inSync: ['a', 'b'] }, ['a']);
    const l2 = new ReplicaSetLifecycle({
      node: 'a',
      store: alone.store,
      logger: log,
      watchedInSync: () => undefined,
    });
    await l2.bootstrap('v', replica('d1', true, false), 'a', async () => undefined);
    expect(alone.calls).toEqual([]);
    expect(alone.set.inSync).toEqual(['a', 'b']);
    // Both restarted so (both lost power): the transaction lets only the first step out.
    const both = fakeStore({ dataset: 'd1', inSync: ['a'] }, ['a', 'b']);
    const l3 = new ReplicaSetLifecycle({
      node: 'a',
      store: both.store,
      logger: log,
      watchedInSync: () => undefined,
    });
    both.set.inSync.push('b');
    const lost = both.store.leaveInSyncWhile;
    both.store.leaveInSyncWhile = async (v, other) => {
      both.set.inSync = both.set.inSync.filter((n) => n !== other); // b stepped out first
      return lost(v, other);
    };
    await l3.bootstrap('v', replica('d1', true, false), 'a', async () => undefined);
    expect(both.set.inSync).toEqual(['a']);
  });

  it('an intact copy (a clean bitmap at open) stays in the in-sync set', async () => {
    const { store, calls } = fakeStore({ dataset: 'd1', inSync: ['a', 'b'] }, ['a', 'b']);
    const l = new ReplicaSetLifecycle({ node: 'a', store, logger: log, watchedInSync: () => undefined });
    await l.bootstrap('v', replica('d1', true, true), 'a', async () => undefined);
    expect(calls).toEqual([]);
  });

  it('a new primary removes dead members first, then keeps its own copy of the set', async () => {
    const { store, calls } = fakeStore({ dataset: 'd1', inSync: ['a', 'b', 'c'] }, ['a', 'c']);
    const l = new ReplicaSetLifecycle({ node: 'a', store, logger: log, watchedInSync: () => ['x'] });
    const set = l.inSyncSet('v');
    expect([...set.members()]).toEqual(['x']);
    const r = replica('d1', true);
    await l.becamePrimary('v', 7, r);
    expect(calls).toEqual(['setInSync 7 b false']);
    expect(r.log).toEqual(['primary 7']);
    expect([...set.members()].sort()).toEqual(['a', 'c']);
    await set.remove('c', 7);
    expect([...set.members()]).toEqual(['a']);
    l.lostPrimary('v');
    expect([...set.members()]).toEqual(['x']);
  });
});
