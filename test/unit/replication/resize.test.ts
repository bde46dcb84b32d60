// Issue 15, online resize of a replicated volume: every copy's store and bitmap grow durably
// before any LU reports the new size; a copy that missed the resize catches up from the next
// Hello; a resize interrupted between prepare and commit is finished by the next primary.
import { afterEach, describe, expect, it } from 'vitest';
import type { BlockDevice, Extent } from '../../../src/backstore/block-device.js';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { DirtyBitmap } from '../../../src/replication/bitmap.js';
import { type Cluster, cluster, MiB, pattern, peerState, until, wireOp } from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

/** A memory store that can grow (up to `max`), and counts the flushes since its last grow. */
class GrowableMemory implements BlockDevice {
  readonly description = 'growable-memory';
  readonly discardGranularity = MemoryDevice.PAGE;
  readonly inner: MemoryDevice;
  size: number;
  /** The size a flush has made durable (a grow is not durable until the next flush). */
  durableSize: number;
  grows = 0;
  constructor(size: number, max = 64 * MiB) {
    this.inner = new MemoryDevice(max);
    this.size = size;
    this.durableSize = size;
  }
  #check(offset: number, length: number): void {
    if (offset + length > this.size)
      throw new Error(`I/O at ${offset}+${length} past the end (${this.size})`);
  }
  read(offset: number, length: number): Promise<Buffer> {
    this.#check(offset, length);
    return this.inner.read(offset, length);
  }
  write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    this.#check(offset, data.length);
    return this.inner.write(offset, data, fua);
  }
  discard(offset: number, length: number): Promise<void> {
    this.#check(offset, length);
    return this.inner.discard(offset, length);
  }
  allocation(offset: number, length: number): Promise<Extent> {
    return this.inner.allocation(offset, length);
  }
  async flush(): Promise<void> {
    this.durableSize = this.size;
  }
  async grow(size: number): Promise<void> {
    if (size > this.size) this.size = size;
    this.grows++;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function growCluster(inSync: string[], size = 8 * MiB) {
  const devs = new Map<string, GrowableMemory>();
  const cl = await cluster({
    names: ['a', 'b'],
    size,
    inSync,
    device: (name) => {
      const d = new GrowableMemory(size);
      devs.set(name, d);
      return d;
    },
  });
  c = cl;
  for (const n of cl.nodes.values()) await n.volume.initDataset('ds1');
  const capacity = new Map<string, number[]>();
  for (const [name, n] of cl.nodes) {
    capacity.set(name, []);
    n.volume.onCapacityChanged((s) => capacity.get(name)!.push(s));
  }
  return { cl, devs, capacity };
}

describe('online resize of a replicated volume', () => {
  it('grows every copy durably before any LU reports the new size; writes past the old end mirror', async () => {
    const { cl, devs, capacity } = await growCluster(['a', 'b']);
    const a = cl.node('a');
    const b = cl.node('b');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    // A writer during the resize, below the old end.
    let writing = true;
    let writes = 0;
    const writer = (async () => {
      while (writing)
        await a.volume.blockDevice.write((writes++ % 64) * 65536, pattern(65536, writes), false);
    })();
    // The moment a's LU reports 16 MiB, b's store must already hold it durably.
    let bAtCommit = 0;
    a.volume.onCapacityChanged(() => {
      bAtCommit = devs.get('b')!.durableSize;
    });
    a.volume.requestSize(16 * MiB);
    await until('a reports 16 MiB', () => a.volume.blockDevice.size === 16 * MiB);
    expect(bAtCommit).toBe(16 * MiB);
    await until('b reports 16 MiB', () => b.volume.blockDevice.size === 16 * MiB);
    writing = false;
    await writer;
    expect(capacity.get('a')).toEqual([16 * MiB]);
    expect(capacity.get('b')).toEqual([16 * MiB]);
    expect(devs.get('a')!.durableSize).toBe(16 * MiB);
    expect(a.volume.status()).toMatchObject({ size: 16 * MiB, resizeTarget: 16 * MiB });
    // Bitmaps follow, durably (the file's header records the new size).
    expect(await DirtyBitmap.recordedSize(`${a.stateDir}/vol1.bitmap`)).toBe(16 * MiB);
    expect(await DirtyBitmap.recordedSize(`${b.stateDir}/vol1.bitmap`)).toBe(16 * MiB);
    // Past the old end: mirrored, and identical on both copies.
    await a.volume.blockDevice.write(12 * MiB, pattern(MiB, 77), true);
    expect((await devs.get('b')!.read(12 * MiB, MiB)).equals(pattern(MiB, 77))).toBe(true);
    expect(peerState(a.volume, 'b')).toBe('in-sync');
    const v = await a.volume.verify();
    expect(v.regions).toBe(16);
    expect(v.differing).toEqual([]);
    // Growing again to the same size changes nothing; a smaller request is ignored.
    a.volume.requestSize(8 * MiB);
    a.volume.requestSize(16 * MiB);
    expect(capacity.get('a')).toEqual([16 * MiB]);
    expect(devs.get('a')!.size).toBe(16 * MiB);
  });

  it('a copy that was down during the resize grows from the next Hello before anything of it is applied', async () => {
    const { cl, devs, capacity } = await growCluster(['a']);
    const a = cl.node('a');
    const b = cl.node('b');
    cl.live.delete('b');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    a.volume.requestSize(16 * MiB);
    await until('a reports 16 MiB', () => a.volume.blockDevice.size === 16 * MiB);
    await a.volume.blockDevice.write(14 * MiB, pattern(8192, 5), false);
    expect(devs.get('b')!.size).toBe(8 * MiB);
    cl.live.add('b');
    a.volume.peersChanged();
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    expect(b.volume.blockDevice.size).toBe(16 * MiB);
    expect(devs.get('b')!.durableSize).toBe(16 * MiB);
    expect(capacity.get('b')).toEqual([16 * MiB]);
    expect((await devs.get('b')!.read(14 * MiB, 8192)).equals(pattern(8192, 5))).toBe(true);
  });

  it('a resize prepared on every copy but not committed is finished by the next primary', async () => {
    const { cl, devs, capacity } = await growCluster(['a', 'b']);
    const a = cl.node('a');
    const b = cl.node('b');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    // a crashes after b acknowledged its prepare, before the commit: modelled by preparing b
    // alone (b's store and bitmap at 16 MiB, its LU still 8 MiB), then a is gone.
    const prepared = b.volume.applyOp(wireOp({ seq: 1, kind: 9 /* RESIZE_PREPARE */, length: 16 * MiB }));
    await prepared;
    expect(b.volume.blockDevice.size).toBe(8 * MiB);
    expect(devs.get('b')!.durableSize).toBe(16 * MiB);
    a.volume.lostPrimary();
    a.canServe = false;
    // b is reopened (a restart) and becomes primary: it finishes the resize, a grows from it.
    await cl.reopen('b');
    const b2 = cl.node('b').volume;
    b2.onCapacityChanged((s) => capacity.get('b')!.push(s));
    expect(b2.blockDevice.size).toBe(8 * MiB);
    b.canServe = true;
    await b2.becamePrimary(2);
    await until('b reports 16 MiB', () => b2.blockDevice.size === 16 * MiB);
    await until('a reports 16 MiB', () => a.volume.blockDevice.size === 16 * MiB);
    expect(devs.get('a')!.durableSize).toBe(16 * MiB);
    await until('a in sync', () => peerState(b2, 'a') === 'in-sync');
    expect((await b2.verify()).differing).toEqual([]);
  });
});
