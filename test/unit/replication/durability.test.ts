// Issue 14, findings 1, 5 and 8: "clean" and "in sync" must mean durable on both sides, a
// restarted primary resyncs its own activity log, and a link is in-sync only for a member.
import { afterEach, describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../../src/backstore/block-device.js';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import {
  type Cluster,
  cluster,
  MiB,
  pattern,
  peerState,
  primaryInSync,
  sameContents,
  sleep,
  until,
} from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

/** A memory device that counts flushes and can hold them until released. */
class FlushCounting extends MemoryDevice {
  flushes = 0;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  hold(): void {
    this.#gate = new Promise((r) => (this.#open = r));
  }
  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }
  override async flush(): Promise<void> {
    if (this.#gate) await this.#gate;
    this.flushes++;
  }
}

async function flushCluster(inSync: string[]): Promise<{ cl: Cluster; devs: Map<string, FlushCounting> }> {
  const devs = new Map<string, FlushCounting>();
  const cl = await cluster({
    names: ['a', 'b'],
    size: 8 * MiB,
    inSync,
    timing: { cleanAfterMs: 50 },
    device: (name): BlockDevice => {
      const d = new FlushCounting(8 * MiB);
      devs.set(name, d);
      return d;
    },
  });
  c = cl;
  return { cl, devs };
}

describe('finding 1: clean and in sync mean durable on both sides', () => {
  it('dirty count does not drop without a flush on the primary and on the replica', async () => {
    const { cl, devs } = await flushCluster(['a', 'b']);
    const a = await primaryInSync(cl, 'a', 'b');
    devs.get('b')!.hold();
    for (let r = 0; r < 4; r++) await a.volume.blockDevice.write(r * MiB, pattern(4096, r), false);
    const dirty = a.volume.status().dirtyRegions;
    expect(dirty).toBeGreaterThanOrEqual(4);
    // Long past cleanAfterMs: while b has not flushed, nothing may be clean.
    await sleep(400);
    expect(devs.get('b')!.flushes).toBe(0);
    expect(a.volume.status().dirtyRegions).toBe(dirty);
    devs.get('b')!.release();
    await until('quiet regions clean', () => a.volume.status().dirtyRegions === 0);
    expect(devs.get('a')!.flushes).toBeGreaterThan(0);
    expect(devs.get('b')!.flushes).toBeGreaterThan(0);
  });

  it('a resynced replica joins the in-sync set only after its IN_SYNC op has flushed', async () => {
    const { cl, devs } = await flushCluster(['a']);
    for (const n of cl.nodes.values()) await n.volume.initDataset('ds1');
    cl.live.delete('b');
    const a = cl.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    await a.volume.blockDevice.write(2 * MiB, pattern(8192, 1), false);
    devs.get('b')!.hold();
    cl.live.add('b');
    a.volume.peersChanged();
    await until('resync started', () => peerState(a.volume, 'b') === 'resyncing');
    await sleep(300);
    expect(cl.inSync.set.has('b')).toBe(false);
    expect(peerState(a.volume, 'b')).not.toBe('in-sync');
    devs.get('b')!.release();
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    expect(cl.inSync.set.has('b')).toBe(true);
    expect(devs.get('b')!.flushes).toBeGreaterThan(0);
    expect(cl.node('b').volume.hasValidData).toBe(true);
  });
});

describe('finding 5: a restarted primary that wins again uses its own activity log', () => {
  it('resyncs to the peer the regions it wrote before the crash without acknowledgment', async () => {
    c = await cluster({ names: ['a', 'b'], size: 16 * MiB, inSync: ['a', 'b'] });
    const a = await primaryInSync(c, 'a', 'b');
    const b = c.node('b');
    // Three regions land on a; b's copies fail after a delay, and a crashes before it learns.
    b.device.delayMs = 300;
    const writes = [1, 5, 9].map((r) => a.volume.blockDevice.write(r * MiB, pattern(4096, r), false));
    for (const w of writes) w.catch(() => undefined);
    await sleep(50);
    for (const r of [1, 5, 9])
      expect((await a.device.read(r * MiB, 4096)).equals(pattern(4096, r))).toBe(true);
    b.device.fail = true;
    a.canServe = false;
    // A restart: the volume closes, its store (memory here) survives.
    a.device.close = () => Promise.resolve();
    await c.reopen('a');
    await sleep(400);
    b.device.fail = false;
    b.device.delayMs = 0;
    expect(c.inSync.set.has('b')).toBe(true);
    expect(await sameContents(a.device, b.device)).toBe(false);
    // a wins again.
    a.canServe = true;
    await a.volume.becamePrimary(2);
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    expect(await sameContents(a.device, b.device)).toBe(true);
    expect(c.inSync.set.has('b')).toBe(true);
  });
});

describe('finding 8: a link is in-sync only for a member of the in-sync set', () => {
  it('does not show a link in-sync for a node whose removal was pending when it reconnected', async () => {
    c = await cluster({ names: ['a', 'b'], size: 8 * MiB, inSync: ['a', 'b'] });
    const a = await primaryInSync(c, 'a', 'b');
    const b = c.node('b');
    c.inSync.removeDelayMs = 800; // longer than the reconnect (100 ms)
    b.kill();
    await b.restart();
    a.volume.peersChanged();
    let violations = 0;
    const end = Date.now() + 2000;
    while (Date.now() < end) {
      if (peerState(a.volume, 'b') === 'in-sync' && !c.inSync.set.has('b')) violations++;
      await sleep(5);
    }
    expect(c.inSync.removedAt.has('b')).toBe(true);
    expect(violations).toBe(0);
    await until('b in sync again', () => peerState(a.volume, 'b') === 'in-sync');
    expect(c.inSync.set.has('b')).toBe(true);
  });
});
