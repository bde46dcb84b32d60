// Safety rule 3: the replica persists the highest epoch before applying anything of it and
// refuses Hellos and ops of an older one.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { OpKind } from '../../../src/replication/proto.js';
import { type Cluster, cluster, MiB, pattern, peerState, rawStream, until, wireOp } from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const hello = (epoch: number) => ({
  hello: {
    volume: 'vol1',
    epoch,
    primaryNode: 'x',
    datasetId: 'ds1',
    regionSize: MiB,
    size: 4 * MiB,
    era: '',
    committedSize: 4 * MiB,
  },
});
const write = (seq: number, offset: number) =>
  wireOp({ seq, kind: OpKind.WRITE, offset, data: pattern(4096, seq) });

describe('epoch fencing', () => {
  it('persists the highest epoch from a Hello and keeps it across reopen', async () => {
    c = await cluster({ names: ['a', 'b'], size: 4 * MiB, inSync: ['a', 'b'] });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    const a = c.node('a');
    a.canServe = true;
    await a.volume.becamePrimary(42);
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    expect(c.node('b').volume.status().highestEpoch).toBe(42);
    const b = await c.reopen('b');
    expect(b.status().highestEpoch).toBe(42);
    expect(b.hasValidData).toBe(true);
    expect(b.datasetId).toBe('ds1');
  });

  it('refuses a Hello with an older epoch (stale primary)', async () => {
    c = await cluster({ names: ['a', 'b', 'c'], size: 4 * MiB, inSync: ['a', 'b', 'c'] });
    for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
    const a = c.node('a');
    a.canServe = true;
    c.live.delete('c'); // partitioned away: it never hears of epoch 10
    await a.volume.becamePrimary(10);
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    c.live.add('c');
    // c still believes it is primary at epoch 9.
    c.live.delete('a');
    const stale = c.node('c');
    stale.canServe = true;
    await stale.volume.becamePrimary(9);
    await until('stale-epoch', () => peerState(stale.volume, 'b') === 'stale-epoch');
    // A write on the stale primary cannot be acknowledged: removing b needs its (lost) leadership.
    c.inSync.failRemoves = Number.POSITIVE_INFINITY;
    setTimeout(() => {
      stale.canServe = false;
    }, 100);
    await expect(stale.volume.blockDevice.write(0, pattern(4096, 1), false)).rejects.toMatchObject({
      replicationCode: 'TANDEM_ERR_REPLICATION_FENCED',
    });
    expect(c.node('b').volume.status().highestEpoch).toBe(10);
  });

  it('refuses becamePrimary with an epoch older than one persisted here', async () => {
    c = await cluster({ names: ['a'], size: 4 * MiB, inSync: ['a'] });
    const a = c.node('a');
    await a.volume.initDataset('ds1');
    a.canServe = true;
    await a.volume.becamePrimary(5);
    a.volume.lostPrimary();
    await expect(a.volume.becamePrimary(4)).rejects.toMatchObject({
      replicationCode: 'TANDEM_ERR_REPLICATION_STALE_EPOCH',
    });
  });

  it('rejects ops carrying an older epoch after a newer primary said Hello, and closes that stream', async () => {
    c = await cluster({ names: ['b'], size: 4 * MiB });
    const b = c.node('b');
    const old = rawStream(b.address);
    const next = rawStream(b.address);
    try {
      old.send(hello(5));
      await until('hello 5 answered', () => old.received.length === 1);
      old.send({ ops: { epoch: 5, ops: [write(1, 0)] } });
      await until('op acked', () => old.received.length === 2);
      expect(old.received[1]!.acks!.acks[0]).toMatchObject({ seq: 1, ok: true });
      next.send(hello(6));
      await until('hello 6 answered', () => next.received.length === 1);
      expect(next.received[0]!.hello!.highestEpoch).toBe(6);
      old.send({ ops: { epoch: 5, ops: [write(2, 8192)] } });
      await until('old stream closed', () => old.error() !== undefined);
      expect(old.error()!.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(old.error()!.details).toMatch(/^STALE_EPOCH/);
      expect((await b.device.read(8192, 4096)).equals(Buffer.alloc(4096))).toBe(true);
      // A Hello of the old epoch is refused too.
      const again = rawStream(b.address);
      again.send(hello(5));
      await until('refused', () => again.error() !== undefined);
      expect(again.error()!.details).toMatch(/^STALE_EPOCH/);
      again.close();
      // The highest epoch survives a restart of the replica.
      expect((await c.reopen('b')).status().highestEpoch).toBe(6);
    } finally {
      old.close();
      next.close();
    }
  });

  it('persists a newer epoch carried by ops before applying them', async () => {
    c = await cluster({ names: ['b'], size: 4 * MiB });
    const b = c.node('b');
    const s = rawStream(b.address);
    try {
      s.send(hello(3));
      await until('hello answered', () => s.received.length === 1);
      s.send({ ops: { epoch: 4, ops: [write(1, 0)] } });
      await until('acked', () => s.received.length === 2);
      expect(b.volume.status().highestEpoch).toBe(4);
    } finally {
      s.close();
    }
  });

  it('closes a stream whose first message is not a Hello', async () => {
    c = await cluster({ names: ['b'], size: 4 * MiB });
    const s = rawStream(c.node('b').address);
    try {
      s.send({ ops: { epoch: 1, ops: [write(1, 0)] } });
      await until('closed', () => s.error() !== undefined);
      expect(s.error()!.details).toMatch(/^PROTOCOL/);
    } finally {
      s.close();
    }
  });

  it('closes a stream that sends an op outside the volume', async () => {
    c = await cluster({ names: ['b'], size: 4 * MiB });
    const s = rawStream(c.node('b').address);
    try {
      s.send(hello(1));
      await until('hello answered', () => s.received.length === 1);
      s.send({ ops: { epoch: 1, ops: [write(1, 4 * MiB - 2048)] } });
      await until('closed', () => s.error() !== undefined);
      expect(s.error()!.details).toMatch(/^PROTOCOL: .*outside the volume/);
    } finally {
      s.close();
    }
  });
});
