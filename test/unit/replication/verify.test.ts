// verify(): per-region checksums compared with every in-sync peer.
import { afterEach, describe, expect, it } from 'vitest';
import { type Cluster, cluster, MiB, pattern, peerState, sameContents, until } from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

describe('verify', () => {
  it('finds a difference injected on the peer and none after the peer was resynced', async () => {
    c = await cluster({ names: ['a', 'b'], size: 8 * MiB, inSync: ['a', 'b'] });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    const a = c.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    await a.volume.blockDevice.write(6 * MiB, pattern(MiB, 1), false);
    const progress: number[] = [];
    const clean = await a.volume.verify((done, total) => {
      expect(total).toBe(8);
      progress.push(done);
    });
    expect(clean).toMatchObject({ regions: 8, regionSize: MiB, differing: [], nodes: ['b'] });
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // Corrupt b behind the primary's back, in a region the primary still has dirty.
    await c.node('b').device.inner.write(6 * MiB + 512, Buffer.from('corrupt'), false);
    const found = await a.volume.verify();
    expect(found.differing).toEqual([{ node: 'b', offset: 6 * MiB, length: MiB }]);

    // Take b out and back: it is resynced from the dirty regions and verifies clean.
    c.live.delete('b');
    a.volume.peersChanged();
    await until('b removed', () => !c!.inSync.set.has('b'));
    c.live.add('b');
    a.volume.peersChanged();
    await until('b in sync again', () => peerState(a.volume, 'b') === 'in-sync' && c!.inSync.set.has('b'));
    expect((await a.volume.verify()).differing).toEqual([]);
    expect(await sameContents(a.device, c.node('b').device)).toBe(true);
  });

  it('is refused on a replica', async () => {
    c = await cluster({ names: ['a'], size: 4 * MiB });
    await expect(c.node('a').volume.verify()).rejects.toMatchObject({
      replicationCode: 'TANDEM_ERR_REPLICATION_FENCED',
    });
  });
});
