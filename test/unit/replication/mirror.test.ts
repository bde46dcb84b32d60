// Safety rules 1, 2 and 4 on the primary's data path: protocol C mirroring, removal from the
// in-sync set before acknowledging what a failed peer lacks, and FENCED instead of an ack.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isReplicationError } from '../../../src/replication/errors.js';
import { type Cluster, cluster, MiB, pattern, peerState, sameContents, sleep, until } from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

async function twoInSync(size = 16 * MiB): Promise<Cluster> {
  c = await cluster({ names: ['a', 'b'], size, inSync: ['a', 'b'] });
  for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
  const a = c.node('a');
  a.canServe = true;
  await a.volume.becamePrimary(1);
  await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
  return c;
}

describe('mirroring (protocol C)', () => {
  it('leaves both devices byte-identical after concurrent non-overlapping writes, discards and flushes', async () => {
    const cl = await twoInSync();
    const dev = cl.node('a').volume.blockDevice;
    const slots = Array.from({ length: 256 }, (_, i) => i).sort(() => Math.random() - 0.5);
    const ops: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const slot = slots[i]!;
      const len = 4096 * (1 + (i % 15));
      ops.push(dev.write(slot * 64 * 1024, pattern(len, i), i % 7 === 0));
    }
    await Promise.all(ops);
    await Promise.all([
      dev.discard!(slots[3]! * 64 * 1024, 8192),
      dev.discard!(slots[250]! * 64 * 1024, 64 * 1024),
    ]);
    await dev.flush();
    expect(await sameContents(cl.node('a').device, cl.node('b').device)).toBe(true);
    const st = cl.node('a').volume.status();
    expect(st.metrics.mirroredOps).toBe(203);
    expect(st.peers[0]).toMatchObject({ node: 'b', state: 'in-sync', inflightOps: 0 });
    expect(cl.node('b').volume.status().metrics.appliedOps).toBeGreaterThanOrEqual(203);
  });

  it('sends the writes issued together in one message, which the replica applies as one run', async () => {
    const cl = await twoInSync();
    const dev = cl.node('a').volume.blockDevice;
    await dev.write(0, pattern(4096, 1), false); // region 0 is now durably dirty: no await before sending
    const replica = cl.node('b').volume;
    const runs: number[] = [];
    const real = replica.applyWriteRun.bind(replica);
    replica.applyWriteRun = (ops) => {
      runs.push(ops.length);
      return real(ops);
    };
    await Promise.all(
      Array.from({ length: 32 }, (_, i) => dev.write((i + 1) * 4096, pattern(4096, i + 2), false)),
    );
    expect(runs).toEqual([32]);
    expect(await sameContents(cl.node('a').device, cl.node('b').device)).toBe(true);
  });

  it('keeps at most maxInflightBytes unacknowledged per peer and still ends identical', async () => {
    c = await cluster({
      names: ['a', 'b', 'c'],
      size: 16 * MiB,
      inSync: ['a', 'b', 'c'],
      timing: { maxInflightBytes: 200 * 1024 },
    });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    const a = c.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    await until('peers in sync', () => a.volume.status().peers.every((p) => p.state === 'in-sync'));
    expect(a.volume.status().peers).toHaveLength(2);
    c.node('b').device.delayMs = 5;
    const writes = Array.from({ length: 100 }, (_, i) =>
      a.volume.blockDevice.write(i * 131072, pattern(65536, i), false),
    );
    await Promise.all(writes);
    expect(await sameContents(a.device, c.node('b').device)).toBe(true);
    expect(await sameContents(a.device, c.node('c').device)).toBe(true);
    // One of three replicas fails: the others keep mirroring.
    c.node('c').kill();
    await a.volume.blockDevice.write(15 * MiB, pattern(4096, 7), true);
    expect(c.inSync.set.has('c')).toBe(false);
    expect(c.inSync.set.has('b')).toBe(true);
    expect((await c.node('b').device.read(15 * MiB, 4096)).equals(pattern(4096, 7))).toBe(true);
  });

  it('acknowledges a write only after the peer applied it', async () => {
    const cl = await twoInSync();
    cl.node('b').device.delayMs = 300;
    const data = pattern(8192, 1);
    const t0 = Date.now();
    await cl.node('a').volume.blockDevice.write(MiB, data, false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    // Already on the peer the moment the initiator could see GOOD.
    expect((await cl.node('b').device.read(MiB, 8192)).equals(data)).toBe(true);
  });

  it('fails writes in flight with FENCED at once on lostPrimary()', async () => {
    const cl = await twoInSync();
    cl.node('b').device.delayMs = 800;
    const w = cl.node('a').volume.blockDevice.write(0, pattern(4096, 2), false);
    await sleep(50);
    cl.node('a').volume.lostPrimary();
    const err = await w.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isReplicationError(err, 'TANDEM_ERR_REPLICATION_FENCED')).toBe(true);
    await expect(cl.node('a').volume.blockDevice.write(0, pattern(4096, 3), false)).rejects.toMatchObject({
      replicationCode: 'TANDEM_ERR_REPLICATION_FENCED',
    });
  });

  it('refuses to issue a write while the lease is not fresh (self-fencing)', async () => {
    const cl = await twoInSync();
    cl.node('a').canServe = false;
    await expect(cl.node('a').volume.blockDevice.write(0, pattern(4096, 3), false)).rejects.toMatchObject({
      replicationCode: 'TANDEM_ERR_REPLICATION_FENCED',
      retryable: true,
    });
  });
});

describe('a failed in-sync peer (rule 2)', () => {
  it('acknowledges writes only after the peer left the in-sync set when it is killed mid-stream', async () => {
    const cl = await twoInSync();
    cl.inSync.removeDelayMs = 200;
    const dev = cl.node('a').volume.blockDevice;
    const writes: Promise<number>[] = [];
    for (let i = 0; i < 40; i++) {
      writes.push(dev.write(i * 65536, pattern(65536, i), false).then(() => Date.now()));
      if (i === 10) cl.node('b').kill();
      await sleep(2);
    }
    const acked = await Promise.all(writes);
    expect(cl.inSync.set.has('b')).toBe(false);
    const removedAt = cl.inSync.removedAt.get('b')!;
    // Every write acknowledged before the removal committed is on the peer (rule 2).
    let early = 0;
    for (let i = 0; i < acked.length; i++) {
      if (acked[i]! >= removedAt) continue;
      early++;
      expect((await cl.node('b').device.read(i * 65536, 65536)).equals(pattern(65536, i))).toBe(true);
    }
    expect(early).toBeGreaterThan(0);
    expect(early).toBeLessThan(40);
    expect(cl.node('a').volume.status().metrics.degradedWrites).toBeGreaterThan(0);
    // Writes keep working without the peer, and its regions stay dirty.
    await dev.write(10 * MiB, pattern(4096, 99), false);
    expect(cl.node('a').volume.status().dirtyRegions).toBeGreaterThan(0);
  });

  it('never acknowledges when the removal fails and the lease is gone: FENCED', async () => {
    const cl = await twoInSync();
    cl.inSync.failRemoves = Number.POSITIVE_INFINITY;
    cl.node('b').device.delayMs = 50;
    cl.node('b').kill();
    const w = cl.node('a').volume.blockDevice.write(0, pattern(4096, 5), false);
    setTimeout(() => {
      cl.node('a').canServe = false;
    }, 150);
    const err = await w.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isReplicationError(err, 'TANDEM_ERR_REPLICATION_FENCED')).toBe(true);
    expect(cl.inSync.set.has('b')).toBe(true);
    expect(cl.inSync.log.filter((l) => l === 'remove b @1').length).toBeGreaterThan(0);
  });

  it('removes an in-sync peer that is not live before acknowledging, without waiting', async () => {
    c = await cluster({ names: ['a', 'b'], size: 4 * MiB, inSync: ['a', 'b'] });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    c.live.delete('b');
    const a = c.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    await a.volume.blockDevice.write(0, pattern(4096, 1), false);
    expect(c.inSync.set.has('b')).toBe(false);
    expect(c.inSync.log).toEqual(['remove b @1']);
  });

  it('waits for a live in-sync peer that does not answer only until the connect deadline', async () => {
    c = await cluster({ names: ['a', 'b'], size: 4 * MiB, inSync: ['a', 'b'] });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    // A peer that accepts TCP connections and never answers (SIGSTOPped).
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    c.node('b').address = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    try {
      const a = c.node('a');
      a.canServe = true;
      await a.volume.becamePrimary(1);
      const t0 = Date.now();
      await a.volume.blockDevice.write(0, pattern(4096, 1), false);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(400); // the connect deadline is 500 ms
      expect(c.inSync.set.has('b')).toBe(false);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('removes a peer whose device fails (nack) before acknowledging', async () => {
    const cl = await twoInSync();
    cl.node('b').device.fail = true;
    await cl.node('a').volume.blockDevice.write(0, pattern(4096, 1), false);
    expect(cl.inSync.set.has('b')).toBe(false);
    expect(['out-of-sync', 'connecting', 'resyncing']).toContain(peerState(cl.node('a').volume, 'b'));
  });

  it('refuses a mirror stream on a node that is itself primary', async () => {
    c = await cluster({ names: ['a', 'b'], size: 4 * MiB, inSync: ['a'] });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    c.node('b').canServe = true;
    const a = c.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(1);
    await until('b refused', () => peerState(a.volume, 'b') === 'refused');
  });
});
