// Issue 14, finding 4: restores must not make a stale replica the truth. After a config import
// into an empty etcd no replica set exists for a volume whose copies hold data: the node that
// comes first must not found a new lineage; the copy with the newest data generation founds the
// set again, and until every replica has said what it holds the volume waits and says for whom.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { DataGeneration } from '../../../src/replication/metadata.js';
import {
  type DataClaim,
  type GovernedReplica,
  ReplicaSetLifecycle,
  type ReplicaSetStore,
} from '../../../src/replication/replica-set-lifecycle.js';
import { type Cluster, cluster, MiB, until } from './harness.js';

const log = pino({ level: 'silent' });

/** One etcd as every node's lifecycle sees it. */
function sharedEtcd() {
  const set = { dataset: undefined as string | undefined, inSync: [] as string[] };
  const claims = new Map<string, DataClaim>();
  const storeFor = (node: string): ReplicaSetStore => ({
    readReplicaSet: async () => ({ dataset: set.dataset, inSync: [...set.inSync] }),
    createReplicaSet: async (_v, d) => {
      if (set.dataset) return false;
      set.dataset = d;
      set.inSync = [node];
      return true;
    },
    setInSync: async () => undefined,
    leaveInSync: async () => undefined,
    leaveInSyncWhile: async () => false,
    liveNodes: async () => [],
    publishDataClaim: async (_v, c) => void claims.set(node, c),
    readDataClaims: async () => new Map(claims),
  });
  return { set, claims, storeFor };
}

function copy(
  datasetId: string,
  gen: DataGeneration,
  known: string[] = [],
): GovernedReplica & { inits: string[] } {
  const r = {
    inits: [] as string[],
    hasValidData: datasetId !== '',
    intact: datasetId !== '',
    dataGeneration: gen,
    status: () => ({ datasetId }),
    initDataset: async (id: string) => void r.inits.push(id),
    becamePrimary: async () => undefined,
    noteRemoval: async () => undefined,
    knownReplicas: known,
  };
  return r;
}

let stop = false;
afterEach(() => {
  stop = true;
});

function lifecycle(node: string, store: ReplicaSetStore): ReplicaSetLifecycle {
  return new ReplicaSetLifecycle({ node, store, logger: log, watchedInSync: () => undefined });
}

describe('finding 4: after etcd forgot the replica set, the newest copy founds it again', () => {
  it('the stale node started first waits for the other replica; the newer one creates the set', async () => {
    stop = false;
    const etcd = sharedEtcd();
    // The new etcd knows only the nodes that joined it; b's copy remembers a as a replica.
    const scope = { replicas: () => ['b'], stopped: () => stop };
    // Both copies of lineage d1; a removed b from the in-sync set in term 12 (seq 1), b never led.
    const b = lifecycle('b', etcd.storeFor('b'));
    const bCopy = copy('d1', { era: 'e1', epoch: 0, seq: 0 }, ['a']);
    await b.bootstrap('v', bCopy, 'b', async () => undefined, scope);
    await new Promise((r) => setTimeout(r, 700));
    expect(etcd.set.dataset, 'the stale node must not found a lineage of its own').toBeUndefined();
    expect(bCopy.inits).toEqual([]);
    expect(b.waiting('v')).toMatch(/waiting for a\b/);

    const a = lifecycle('a', etcd.storeFor('a'));
    const aCopy = copy('d1', { era: 'e1', epoch: 12, seq: 1 });
    await a.bootstrap('v', aCopy, 'b', async () => undefined, scope);
    await until('the set re-created', () => etcd.set.dataset !== undefined);
    expect(etcd.set).toEqual({ dataset: 'd1', inSync: ['a'] });
    expect(aCopy.inits, 'the founder keeps its lineage (the other copy is resynced by bitmap)').toEqual([]);
    await until('b stops waiting', () => b.waiting('v') === undefined, 3000);
  });

  it('a node with no data never founds the set while another copy holds data', async () => {
    stop = false;
    const etcd = sharedEtcd();
    const scope = { replicas: () => ['a', 'c'], stopped: () => stop };
    const a = lifecycle('a', etcd.storeFor('a'));
    await a.bootstrap('v', copy('d1', { era: 'e1', epoch: 3, seq: 0 }), 'c', async () => undefined, scope);
    const c = lifecycle('c', etcd.storeFor('c'));
    const fresh = copy('', { era: '', epoch: 0, seq: 0 });
    await c.bootstrap('v', fresh, 'c', async () => undefined, scope);
    await until('the set re-created', () => etcd.set.dataset !== undefined);
    expect(etcd.set).toEqual({ dataset: 'd1', inSync: ['a'] });
    expect(fresh.inits).toEqual([]);
  });

  it('copies of two eras are not compared: the volume waits for the operator and says so', async () => {
    stop = false;
    const etcd = sharedEtcd();
    const scope = { replicas: () => ['a', 'b'], stopped: () => stop };
    const a = lifecycle('a', etcd.storeFor('a'));
    const b = lifecycle('b', etcd.storeFor('b'));
    await a.bootstrap('v', copy('d1', { era: 'e1', epoch: 9, seq: 0 }), 'a', async () => undefined, scope);
    await b.bootstrap('v', copy('d1', { era: 'e2', epoch: 4, seq: 0 }), 'a', async () => undefined, scope);
    await until('a says why it waits', () => /different etcd eras/.test(a.waiting('v') ?? ''));
    expect(etcd.set.dataset).toBeUndefined();
  });
});

describe('check 4: status says which copy is the source, which waits and for what, which resyncs', () => {
  it('waiting for a replica, then resynced from the newest copy (b) / the source (a), until in sync', async () => {
    stop = false;
    const etcd = sharedEtcd();
    const scope = { replicas: () => ['b'], stopped: () => stop };
    const watched = (node: string) =>
      new ReplicaSetLifecycle({
        node,
        store: etcd.storeFor(node),
        logger: log,
        watchedInSync: () => etcd.set.inSync,
      });
    const b = watched('b');
    await b.bootstrap(
      'v',
      copy('d1', { era: 'e1', epoch: 0, seq: 0 }, ['a']),
      'b',
      async () => undefined,
      scope,
    );
    await until('b waits', () => b.recovery('v') !== undefined);
    expect(b.recovery('v')).toEqual({
      state: 'waiting-for-replicas',
      source: '',
      missing: ['a'],
      generation: { era: 'e1', epoch: 0, seq: 0 },
      reason: b.waiting('v'),
    });

    const a = watched('a');
    await a.bootstrap('v', copy('d1', { era: 'e1', epoch: 12, seq: 1 }), 'b', async () => undefined, scope);
    await until('the set re-created', () => etcd.set.dataset !== undefined);
    expect(a.recovery('v')).toMatchObject({
      state: 'source',
      source: 'a',
      missing: ['b'],
      reason: 'the replica set of v was re-created from this copy (the newest data): b is resynced from it',
    });
    await until('b resyncs from a', () => b.recovery('v')?.state === 'resync-from-newest', 3000);
    expect(b.recovery('v')).toMatchObject({
      source: 'a',
      reason:
        "the replica set of v was re-created from a's copy (the newest data): this copy is resynced from it",
    });
    expect(b.waiting('v')).toBeUndefined();

    // b joins the in-sync set: nothing to say any more, on either node.
    etcd.set.inSync.push('b');
    expect(b.recovery('v')).toBeUndefined();
    expect(a.recovery('v')).toBeUndefined();
  });

  it('a stale copy whose newer peer has reported waits for it, and says both generations', async () => {
    stop = false;
    const etcd = sharedEtcd();
    const scope = { replicas: () => ['a', 'b'], stopped: () => stop };
    // a's claim is there (a has not founded the set yet, as if it were still starting).
    etcd.claims.set('a', { valid: true, dataset: 'd1', era: 'e1', epoch: 12, seq: 1 });
    const b = lifecycle('b', etcd.storeFor('b'));
    await b.bootstrap('v', copy('d1', { era: 'e1', epoch: 3, seq: 0 }), 'b', async () => undefined, scope);
    await until('b waits for a', () => b.recovery('v') !== undefined);
    expect(b.recovery('v')).toEqual({
      state: 'waiting-for-newest',
      source: 'a',
      missing: [],
      generation: { era: 'e1', epoch: 3, seq: 0 },
      newest: { era: 'e1', epoch: 12, seq: 1 },
      reason: 'a holds the newest data of v: waiting for it to re-create the replica set',
    });
    expect(etcd.set.dataset).toBeUndefined();
  });

  it('copies of two eras: waiting for the operator', async () => {
    stop = false;
    const etcd = sharedEtcd();
    const scope = { replicas: () => ['a', 'b'], stopped: () => stop };
    etcd.claims.set('a', { valid: true, dataset: 'd1', era: 'e2', epoch: 4, seq: 0 });
    const b = lifecycle('b', etcd.storeFor('b'));
    await b.bootstrap('v', copy('d1', { era: 'e1', epoch: 9, seq: 0 }), 'b', async () => undefined, scope);
    await until('b waits', () => b.recovery('v') !== undefined);
    expect(b.recovery('v')).toMatchObject({ state: 'waiting-for-operator', source: '' });
    expect(b.recovery('v')?.reason).toMatch(/different etcd eras: the operator must choose/);
    stop = true;
    await until('a stopped volume says nothing', () => b.recovery('v') === undefined, 3000);
  });
});

describe('finding 4: the data generation follows the in-sync set', () => {
  let c: Cluster | undefined;
  afterEach(async () => {
    await c?.close();
    c = undefined;
  });

  it('a new term, then each removal by the primary, makes its generation newer, durably', async () => {
    c = await cluster({ names: ['a', 'b'], size: 4 * MiB, inSync: ['a', 'b'] });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    const set = { dataset: 'ds1', inSync: ['a', 'b'] };
    const store: ReplicaSetStore = {
      readReplicaSet: async () => ({ ...set, inSync: [...set.inSync] }),
      createReplicaSet: async () => false,
      setInSync: async (_v, _e, node, inSync) => {
        if (!inSync) set.inSync = set.inSync.filter((n) => n !== node);
      },
      leaveInSync: async () => undefined,
      leaveInSyncWhile: async () => false,
      liveNodes: async () => ['a', 'b'],
      publishDataClaim: async () => undefined,
      readDataClaims: async () => new Map(),
    };
    const l = lifecycle('a', store);
    const a = c.node('a');
    await l.bootstrap('vol1', a.volume, 'a', async () => undefined);
    a.canServe = true;
    await l.becamePrimary('vol1', 5, a.volume);
    expect(a.volume.dataGeneration).toMatchObject({ epoch: 5, seq: 0 });
    await l.inSyncSet('vol1').remove('b', 5);
    expect(a.volume.dataGeneration).toMatchObject({ epoch: 5, seq: 1 });
    expect(c.node('b').volume.dataGeneration).toMatchObject({ epoch: 0, seq: 0 });
    const reopened = await c.reopen('a');
    expect(reopened.dataGeneration).toMatchObject({ epoch: 5, seq: 1 });
  });
});
