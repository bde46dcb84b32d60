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
    liveNodes: async () => live,
    publishDataClaim: async () => undefined,
    readDataClaims: async () => new Map(),
  };
  return { store, set, calls };
}

function replica(datasetId: string, valid: boolean): GovernedReplica & { log: string[]; datasetId: string } {
  const r = {
    log: [] as string[],
    hasValidData: valid,
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
