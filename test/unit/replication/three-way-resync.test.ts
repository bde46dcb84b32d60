// Three-way sets: a peer that left the in-sync set under one primary, returning to the next,
// gets every write it missed. The next primary was a replica then: its own bitmap does not name
// the regions written while the peer was away (replicas do not mark), so a resync from its
// bitmap and the peer's alone would let the peer rejoin without them — and serve old data after
// a later failover to it (rules 1, 2, 6 for N peers). Found reviewing the resize branch.
import { afterEach, describe, expect, it } from 'vitest';
import { type Cluster, cluster, MiB, pattern, peerState, primaryInSync, until } from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

describe('three-way: a peer away under the previous primary', () => {
  it('is resynced in full by the next primary, and gets the write it missed', async () => {
    c = await cluster({ names: ['a', 'b', 'c'], size: 16 * MiB, inSync: ['a', 'b', 'c'] });
    const a = await primaryInSync(c, 'a', 'b', 'c');
    const [b, p] = [c.node('b'), c.node('c')];

    // c goes away; a write W is acknowledged by a and b, and a takes c out of the set.
    await c.crash('c');
    const w = pattern(4096, 7);
    await a.volume.blockDevice.write(3 * MiB, w, true);
    await until('c out of the in-sync set', () => !c!.inSync.set.has('c'));
    expect((await b.device.read(3 * MiB, 4096)).equals(w)).toBe(true);
    expect((await p.device.read(3 * MiB, 4096)).equals(w)).toBe(false);

    // a dies; b, in sync, takes over; c returns to b.
    await c.crash('a');
    b.canServe = true;
    await b.volume.becamePrimary(2);
    await c.rejoin('c');
    b.volume.peersChanged();
    await until('c in sync with b', () => peerState(b.volume, 'c') === 'in-sync', 20_000);
    expect(c.inSync.set.has('c')).toBe(true);
    expect((await p.device.read(3 * MiB, 4096)).equals(w)).toBe(true);
  });
});
