// Resync (safety rule 6): proportional to the dirty regions of both sides, full for a peer
// without trustworthy data, live writes during it, and the peer joins the in-sync set at the end.
import { afterEach, describe, expect, it } from 'vitest';
import { type Cluster, cluster, MiB, pattern, peerState, sameContents, sleep, until } from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

describe('resync', () => {
  it('copies only the regions written while the peer was away, with live writes during it', async () => {
    // b was in sync when a's term began (a's bitmap then covers what b misses; a peer already
    // away then gets a full copy: three-way-resync.test.ts).
    c = await cluster({ names: ['a', 'b'], size: 16 * MiB, inSync: ['a', 'b'] });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    c.live.delete('b');
    const a = c.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(7);
    // 2 MiB written while b is away: regions 3 and 4 (1 MiB regions), unaligned.
    await a.volume.blockDevice.write(3 * MiB + 512 * 1024, pattern(MiB, 1), false);
    await a.volume.blockDevice.write(4 * MiB + 4096, pattern(4096, 2), true);
    expect(a.volume.status().dirtyRegions).toBe(2);

    c.node('b').device.delayMs = 30; // slow enough that live writes overlap the resync
    c.live.add('b');
    a.volume.peersChanged();
    await until('resync started', () => peerState(a.volume, 'b') === 'resyncing');
    const live: Promise<void>[] = [];
    for (let i = 0; i < 12; i++)
      live.push(a.volume.blockDevice.write(3 * MiB + i * 65536, pattern(65536, 100 + i), false));
    live.push(a.volume.blockDevice.write(9 * MiB, pattern(8192, 200), false));
    await Promise.all(live);
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    const peer = a.volume.status().peers[0]!;
    expect(peer.resyncTotalBytes).toBe(2 * MiB);
    expect(peer.resyncDoneBytes).toBe(2 * MiB);
    expect(c.inSync.set.has('b')).toBe(true);
    expect(c.inSync.log).toContain('add b @7');
    await until('b told it is in sync', () => c!.node('b').volume.hasValidData);
    expect(await sameContents(a.device, c.node('b').device)).toBe(true);
    expect(c.node('b').volume.status().highestEpoch).toBe(7);
  });

  it('copies everything to a peer with no valid data, sending unmapped regions as zero', async () => {
    c = await cluster({ names: ['a', 'b'], size: 16 * MiB, inSync: ['a'] });
    await c.node('a').volume.initDataset('ds1');
    // b's old contents must not survive: garbage everywhere.
    for (let r = 0; r < 16; r++) await c.node('b').device.write(r * MiB, pattern(4096, 1000 + r), false);
    c.live.delete('b');
    const a = c.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    await a.volume.blockDevice.write(5 * MiB, pattern(2 * MiB, 5), false);
    c.live.add('b');
    a.volume.peersChanged();
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    const peer = a.volume.status().peers[0]!;
    expect(peer.resyncTotalBytes).toBe(16 * MiB);
    expect(peer.resyncSentBytes).toBe(2 * MiB); // the rest is unmapped on a
    await until('b valid', () => c!.node('b').volume.hasValidData);
    expect(c.node('b').volume.datasetId).toBe('ds1');
    expect(await sameContents(a.device, c.node('b').device)).toBe(true);
  });

  it('resyncs the union of both bitmaps to a peer that was primary before (replacement primary)', async () => {
    c = await cluster({ names: ['a', 'b'], size: 16 * MiB, inSync: ['a', 'b'] });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    const a = c.node('a');
    const b = c.node('b');
    // b is primary (a away) and writes region 2; its acks never reached anyone; it dies.
    c.live.delete('a');
    b.canServe = true;
    await b.volume.becamePrimary(3);
    await b.volume.blockDevice.write(2 * MiB, pattern(8192, 1), false);
    b.volume.lostPrimary();
    b.canServe = false;
    c.live.delete('b');
    c.live.add('a');
    // a, still in the in-sync set, takes over at a newer epoch and writes region 11 (b is in
    // the set when a's term begins, so a's bitmap covers it; a removes it as it is not live).
    a.canServe = true;
    await a.volume.becamePrimary(4);
    await a.volume.blockDevice.write(11 * MiB, pattern(8192, 2), false);
    // b returns.
    c.live.add('b');
    a.volume.peersChanged();
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    expect(a.volume.status().peers[0]!.resyncTotalBytes).toBe(2 * MiB);
    // b's unacknowledged write to region 2 is rolled back to the new primary's data.
    expect(await sameContents(a.device, b.device)).toBe(true);
    await until('b bitmap clear', () => b.volume.status().dirtyRegions === 0);
  });

  it('restarts an interrupted resync and still ends identical', async () => {
    c = await cluster({ names: ['a', 'b'], size: 16 * MiB, inSync: ['a'] });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    c.live.delete('b');
    const a = c.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    for (let r = 0; r < 8; r++) await a.volume.blockDevice.write(r * 2 * MiB, pattern(MiB, r), false);
    c.node('b').device.delayMs = 40;
    c.live.add('b');
    a.volume.peersChanged();
    await until('resyncing', () => (a.volume.status().peers[0]?.resyncDoneBytes ?? 0) > 0);
    c.node('b').kill();
    await until('link down', () => peerState(a.volume, 'b') !== 'resyncing');
    c.node('b').device.delayMs = 0;
    await c.node('b').restart();
    a.volume.peersChanged();
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync', 15_000);
    expect(await sameContents(a.device, c.node('b').device)).toBe(true);
    expect(c.inSync.set.has('b')).toBe(true);
  });

  it('clears dirty regions lazily once every replica is in sync and the region is quiet', async () => {
    c = await cluster({
      names: ['a', 'b'],
      size: 8 * MiB,
      inSync: ['a', 'b'],
      timing: { cleanAfterMs: 200 },
    });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    const a = c.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    await a.volume.blockDevice.write(MiB, pattern(4096, 1), false);
    // Region 1, and with every replica in sync the regions after it are marked in the same
    // bitmap write (mark-ahead, clipped at the end of this 8-region volume).
    expect(a.volume.status().dirtyRegions).toBe(7);
    await sleep(50);
    expect(a.volume.status().dirtyRegions).toBe(7); // not quiet yet
    await until('clean', () => a.volume.status().dirtyRegions === 0, 3000);
  });

  it('keeps regions dirty while a configured replica is out of sync', async () => {
    c = await cluster({ names: ['a', 'b'], size: 8 * MiB, inSync: ['a'], timing: { cleanAfterMs: 50 } });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    c.live.delete('b');
    const a = c.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    await a.volume.blockDevice.write(MiB, pattern(4096, 1), false);
    await sleep(300);
    // Exactly the written region: while a replica is out of sync nothing is marked ahead.
    expect(a.volume.status().dirtyRegions).toBe(1);
  });
});
