// Issue 15, resync an operator can steer: a rate limit that holds and changes live, and a full
// resync interrupted by a link drop or a replica restart resumes from the replica's durable
// checkpoint (regions cleared there only after a flush) instead of starting over.
import { afterEach, describe, expect, it } from 'vitest';
import type { BlockDevice, Extent } from '../../../src/backstore/block-device.js';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { type Cluster, cluster, MiB, pattern, peerState, sameContents, sleep, until } from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

/** A memory store that survives close() (a restart keeps the disk) and counts flushes. */
class Disk implements BlockDevice {
  readonly description = 'disk';
  readonly discardGranularity = MemoryDevice.PAGE;
  readonly inner: MemoryDevice;
  flushes = 0;
  delayMs = 0;
  constructor(readonly size: number) {
    this.inner = new MemoryDevice(size);
  }
  read(offset: number, length: number): Promise<Buffer> {
    return this.inner.read(offset, length);
  }
  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    return this.inner.write(offset, data, fua);
  }
  discard(offset: number, length: number): Promise<void> {
    return this.inner.discard(offset, length);
  }
  allocation(offset: number, length: number): Promise<Extent> {
    return this.inner.allocation(offset, length);
  }
  async flush(): Promise<void> {
    this.flushes++;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function fullResyncCluster(size: number) {
  const disks = new Map<string, Disk>();
  const cl = await cluster({
    names: ['a', 'b'],
    size,
    inSync: ['a'],
    device: (name) => {
      const d = new Disk(size);
      disks.set(name, d);
      return d;
    },
  });
  c = cl;
  await cl.node('a').volume.initDataset('ds1');
  const a = cl.node('a');
  cl.live.delete('b');
  a.canServe = true;
  await a.volume.becamePrimary(1);
  // Data in every region (a full resync sends them all as data).
  for (let off = 0; off < size; off += MiB) await disks.get('a')!.write(off, pattern(MiB, off / MiB), false);
  const b = cl.node('b');
  return {
    cl,
    disks,
    a,
    b,
    /** b joins and is resynced slowly; its link is cut once half the volume is copied. */
    cutHalfway: async () => {
      disks.get('b')!.delayMs = 15;
      cl.live.add('b');
      a.volume.peersChanged();
      await until('half done', () => (peer(cl)?.resyncDoneBytes ?? 0) >= size / 2, 15_000);
      b.kill();
      await until('link down', () => peerState(a.volume, 'b') !== 'resyncing');
    },
    /** b's link is back at full speed: resolves with a's status of b once b is in sync. */
    resume: async () => {
      disks.get('b')!.delayMs = 0;
      await b.restart();
      a.volume.peersChanged();
      await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync', 15_000);
      return peer(cl)!;
    },
  };
}

function peer(cl: Cluster) {
  return cl
    .node('a')
    .volume.status()
    .peers.find((p) => p.node === 'b');
}

describe('resync rate limit', () => {
  it('holds the limit (±15 %) and follows a change made while the resync runs', async () => {
    const { cl, disks, a } = await fullResyncCluster(24 * MiB);
    a.volume.setResyncRate(16 * MiB);
    cl.live.add('b');
    const t0 = performance.now();
    a.volume.peersChanged();
    await until('half done', () => (peer(cl)?.resyncDoneBytes ?? 0) >= 12 * MiB, 10_000);
    const half = (performance.now() - t0) / 1000;
    const measured = 12 / half;
    expect(peer(cl)?.resyncRateBps).toBeGreaterThan(0);
    expect(peer(cl)?.resyncEtaSeconds).toBeGreaterThan(0);
    // Live: unlimited for the rest.
    a.volume.setResyncRate(0);
    const t1 = performance.now();
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync', 10_000);
    const rest = (performance.now() - t1) / 1000;
    console.log(
      `resync limit 16 MiB/s: measured ${measured.toFixed(1)} MiB/s over 12 MiB; the other 12 MiB unlimited in ${rest.toFixed(2)} s`,
    );
    expect(measured).toBeGreaterThan(16 * 0.85);
    expect(measured).toBeLessThan(16 * 1.15);
    expect(rest).toBeLessThan(half / 2);
    expect(await sameContents(disks.get('a')!, disks.get('b')!)).toBe(true);
  });
});

describe('resumable full resync', () => {
  it('a link cut at about half resumes with the other half, and ends identical', async () => {
    const { disks, b, cutHalfway, resume } = await fullResyncCluster(32 * MiB);
    await cutHalfway();
    // The checkpoint is written (flush, then clear) within CHECKPOINT_MS of the last region.
    await until('checkpoint written', () => b.volume.status().dirtyRegions <= 16, 3000);
    const flushesBefore = disks.get('b')!.flushes;
    expect(flushesBefore).toBeGreaterThan(0);
    expect(b.volume.hasValidData).toBe(false);
    const p = await resume();
    console.log(
      `link cut at ${16} of 32 MiB: resumed resync copied ${(p.resyncTotalBytes / MiB).toFixed(0)} MiB (resumed: ${p.resyncResumed})`,
    );
    expect(p.resyncResumed).toBe(true);
    expect(p.resyncTotalBytes).toBeGreaterThanOrEqual(16 * MiB * 0.8);
    expect(p.resyncTotalBytes).toBeLessThanOrEqual(16 * MiB * 1.2);
    expect(await sameContents(disks.get('a')!, disks.get('b')!)).toBe(true);
    expect(b.volume.hasValidData).toBe(true);
  });

  // Regression (replicated-resync-steer: the resumed resync copied 130 MB of the 96 MiB left): a
  // live write to a region the resync had already copied marked the replica's next 31 regions
  // dirty ahead of it (the replica's mark-ahead), undoing their checkpoint.
  it('a live write to a copied region during the resync leaves the checkpoint of the others alone', async () => {
    const { cl, disks, a, b } = await fullResyncCluster(32 * MiB);
    disks.get('b')!.delayMs = 15;
    cl.live.add('b');
    a.volume.peersChanged();
    await until('half done', () => (peer(cl)?.resyncDoneBytes ?? 0) >= 16 * MiB, 15_000);
    await until('checkpoint written', () => b.volume.status().dirtyRegions <= 20, 3000);
    // Region 1 was copied and checkpointed (clean on b): the application writes it now.
    await a.volume.blockDevice.write(MiB + 4096, pattern(4096, 77), false);
    b.kill();
    await until('link down', () => peerState(a.volume, 'b') !== 'resyncing');
    const left = 32 * MiB - peer(cl)!.resyncDoneBytes;
    await sleep(800); // the last checkpoint is written within CHECKPOINT_MS (500 ms)
    disks.get('b')!.delayMs = 0;
    await b.restart();
    a.volume.peersChanged();
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync', 15_000);
    const p = peer(cl)!;
    console.log(
      `write to a copied region, link cut with ${left / MiB} of 32 MiB left: resumed resync copied ${(p.resyncTotalBytes / MiB).toFixed(0)} MiB`,
    );
    expect(p.resyncResumed).toBe(true);
    // What was left (regions in flight at the cut included), and region 1, written since.
    expect(p.resyncTotalBytes).toBeGreaterThanOrEqual(left);
    expect(p.resyncTotalBytes).toBeLessThanOrEqual(left + 5 * MiB);
    expect(await sameContents(disks.get('a')!, disks.get('b')!)).toBe(true);
  });

  it('a replica restart resumes too; a write made meanwhile to a copied region is sent again', async () => {
    const { cl, disks, a, b, cutHalfway, resume } = await fullResyncCluster(16 * MiB);
    await cutHalfway();
    await until('checkpoint written', () => b.volume.status().dirtyRegions <= 8, 3000);
    // Region 0 was copied (clean on b); a writes it while b is away.
    await a.volume.blockDevice.write(0, pattern(4096, 999), false);
    await cl.reopen('b');
    const p = await resume();
    expect(p.resyncResumed).toBe(true);
    expect(p.resyncTotalBytes).toBeLessThan(12 * MiB);
    expect(await sameContents(disks.get('a')!, disks.get('b')!)).toBe(true);
  });

  it('another primary does not resume a checkpoint it did not start: it copies everything', async () => {
    const { disks, a, cutHalfway, resume } = await fullResyncCluster(16 * MiB);
    await cutHalfway();
    // a loses the role and wins a later term after another primary's epoch reached it.
    a.volume.lostPrimary();
    await a.volume.acceptEpoch(5, 'x');
    await a.volume.becamePrimary(6);
    const p = await resume();
    expect(p.resyncResumed).toBe(false);
    expect(p.resyncTotalBytes).toBe(16 * MiB);
    expect(await sameContents(disks.get('a')!, disks.get('b')!)).toBe(true);
  });
});
