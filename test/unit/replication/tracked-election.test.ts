// Three-way sets: which peers a new primary's bitmap tracks is decided at its election, from the
// in-sync set. A node follows that set through a watch, and a watch can lag behind etcd: if the
// new primary trusted it, a peer the old primary had just removed (and that missed writes the
// old primary and the new one acknowledged while it was out) would count as in sync and tracked,
// rejoin without any resync, and serve old data after a later failover to it (rules 2 and 6).
// The election takes the set from a fresh read of the store (etcd: a transaction, linearizable)
// after the campaign won, never from the watch: these tests drive the real ReplicaSetLifecycle
// with a watch held at the old set and check the returning peer gets every write it missed.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaSetLifecycle, type ReplicaSetStore } from '../../../src/replication/replica-set-lifecycle.js';
import type { InSyncSet } from '../../../src/replication/replication-interface.js';
import {
  type Cluster,
  cluster,
  type FakeInSync,
  inSyncWith,
  MiB,
  pattern,
  peerState,
  sameContents,
  until,
} from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const log = pino({ level: 'silent' });

/**
 * Every node's lifecycle over one store (etcd: `truth`), each with a watch frozen at the set the
 * volume started with: the most a watch can lag.
 */
function lagging(names: string[], live: () => ReadonlySet<string>) {
  const lifecycles = new Map<string, ReplicaSetLifecycle>();
  const sets = new Map<string, InSyncSet>();
  const watched = [...names];
  const storeOf = (truth: FakeInSync): ReplicaSetStore => ({
    readReplicaSet: async () => ({ dataset: 'ds1', inSync: [...truth.set].sort() }),
    createReplicaSet: async () => false,
    setInSync: (_v, epoch, node, inSync) => (inSync ? truth.add(node, epoch) : truth.remove(node, epoch)),
    leaveInSync: async () => undefined,
    leaveInSyncWhile: async () => false,
    liveNodes: async () => [...live()],
    publishDataClaim: async () => undefined,
    readDataClaims: async () => new Map(),
  });
  return {
    watched,
    lifecycle: (name: string) => lifecycles.get(name)!,
    inSyncOf: (name: string, truth: FakeInSync): InSyncSet => {
      let set = sets.get(name);
      if (!set) {
        const l = new ReplicaSetLifecycle({
          node: name,
          store: storeOf(truth),
          logger: log,
          watchedInSync: () => watched,
        });
        lifecycles.set(name, l);
        set = l.inSyncSet('vol1');
        sets.set(name, set);
      }
      return set;
    },
  };
}

describe('election: the in-sync set a new primary tracks', () => {
  it('a peer removed just before the failover is not tracked by the new primary though its watch still lists it: full resync, the missed write reaches it', async () => {
    const names = ['a', 'b', 'c'];
    let live: ReadonlySet<string> = new Set(names);
    const view = lagging(names, () => live);
    c = await cluster({ names, size: 16 * MiB, inSync: names, inSyncOf: view.inSyncOf });
    live = c.live;
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    const [a, b, p] = [c.node('a'), c.node('b'), c.node('c')];
    a.canServe = true;
    await view.lifecycle('a').becamePrimary('vol1', 1, a.volume);
    await until('b and c in sync', () => inSyncWith(a.volume, 'b', 'c'));

    // c goes away; W is acknowledged by a and b once a took c out of the set (etcd).
    await c.crash('c');
    const w = pattern(4096, 11);
    await a.volume.blockDevice.write(5 * MiB, w, true);
    expect(c.inSync.set.has('c')).toBe(false);
    expect((await b.device.read(5 * MiB, 4096)).equals(w)).toBe(true);
    expect((await p.device.read(5 * MiB, 4096)).equals(w)).toBe(false);

    // a dies; b wins while its watch still shows the set before c's removal.
    await c.crash('a');
    expect(view.watched).toContain('c');
    b.canServe = true;
    // c is back before b's first write (within the connect deadline, nothing forces a removal).
    await c.rejoin('c');
    await view.lifecycle('b').becamePrimary('vol1', 2, b.volume);
    await until('c in sync with b', () => peerState(b.volume, 'c') === 'in-sync', 20_000);
    expect(c.inSync.set.has('c'), 'c added back by a transaction, not shown in sync from the watch').toBe(
      true,
    );
    expect((await p.device.read(5 * MiB, 4096)).equals(w), 'W, acknowledged while c was out').toBe(true);
    const w2 = pattern(4096, 12);
    await b.volume.blockDevice.write(9 * MiB, w2, true);
    expect((await p.device.read(9 * MiB, 4096)).equals(w2)).toBe(true);
    const v = await b.volume.verify();
    expect(v.differing).toEqual([]);
    expect(await sameContents(b.device, p.device)).toBe(true);

    // A later failover to c serves W.
    b.canServe = false;
    b.volume.lostPrimary();
    view.lifecycle('b').lostPrimary('vol1');
    p.canServe = true;
    await view.lifecycle('c').becamePrimary('vol1', 3, p.volume);
    expect((await p.volume.blockDevice.read(5 * MiB, 4096)).equals(w)).toBe(true);
  });

  // The set read at the election, before its dead members leave it, decides what is tracked: a
  // member removed then (the crashed old primary) missed nothing of an earlier term, so a full
  // resync of it after every crash failover would copy the whole volume for nothing.
  it('the returning old primary, removed at the election as dead, is still tracked: an incremental resync', async () => {
    const names = ['a', 'b'];
    let live: ReadonlySet<string> = new Set(names);
    const view = lagging(names, () => live);
    c = await cluster({ names, size: 16 * MiB, inSync: names, inSyncOf: view.inSyncOf });
    live = c.live;
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    const [a, b] = [c.node('a'), c.node('b')];
    a.canServe = true;
    await view.lifecycle('a').becamePrimary('vol1', 1, a.volume);
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');

    // a crashes; b wins and takes a (no session) out of the set.
    await c.crash('a');
    b.canServe = true;
    await view.lifecycle('b').becamePrimary('vol1', 2, b.volume);
    expect(c.inSync.set.has('a')).toBe(false);
    const w = pattern(4096, 13);
    await b.volume.blockDevice.write(3 * MiB, w, true);

    await c.rejoin('a');
    b.volume.peersChanged();
    await until('a in sync with b', () => peerState(b.volume, 'a') === 'in-sync', 20_000);
    const st = b.volume.status().peers.find((x) => x.node === 'a')!;
    expect(st.resyncTotalBytes, 'only the regions b wrote, not the whole volume').toBeLessThan(16 * MiB);
    expect((await a.device.read(3 * MiB, 4096)).equals(w)).toBe(true);
    expect((await b.volume.verify()).differing).toEqual([]);
  });
});
