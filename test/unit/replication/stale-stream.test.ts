// Issue #14 finding 2, "stale ops from an abandoned stream": ops in flight when the A–B link
// partitions; A gives the stream up, reconnects when the link heals and writes the LBA anew; the
// old connection's retransmission then landed the old op on B. Now a newly accepted Hello closes
// every older stream of the volume, a closed stream's ops are never applied, and the server's
// keepalive notices a primary that went silent.
import net from 'node:net';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { OpKind, type PrimaryMessage } from '../../../src/replication/proto.js';
import { ReplicatedVolume } from '../../../src/replication/replicated-volume.js';
import { addReplicationService } from '../../../src/replication/server.js';
import { PEER_CHANNEL_OPTIONS } from '../../../src/util/proto.js';
import { type Cluster, cluster, FakeInSync, MiB, pattern, rawStream, until, wireOp } from './harness.js';

let c: Cluster | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await c?.close();
  c = undefined;
  for (const f of cleanups.splice(0)) await f();
});

const hello = (epoch: number): PrimaryMessage => ({
  hello: {
    volume: 'vol1',
    epoch,
    primaryNode: 'a',
    datasetId: 'ds1',
    regionSize: MiB,
    size: 4 * MiB,
    era: '',
    committedSize: 4 * MiB,
  },
});
const write = (seq: number, offset: number, seed: number) =>
  wireOp({ seq, kind: OpKind.WRITE, offset, data: pattern(4096, seed) });

describe('stale ops from an abandoned stream (#14 finding 2)', () => {
  it('a new accepted Hello of the same primary closes the old stream; its late op is never applied', async () => {
    c = await cluster({ names: ['b'], size: 4 * MiB });
    const b = c.node('b');
    const old = rawStream(b.address);
    const next = rawStream(b.address);
    cleanups.push(
      () => old.close(),
      () => next.close(),
    );
    old.send(hello(5));
    await until('old hello answered', () => old.received.length === 1);
    old.send({ ops: { epoch: 5, ops: [write(1, 0, 1)] } });
    await until('old write acked', () => old.acks().length === 1);

    // The link healed: the same primary, same epoch, opens a new stream and rewrites LBA 0.
    next.send(hello(5));
    await until('new hello answered', () => next.received.length === 1);
    await until('old stream closed by the new Hello', () => old.error() !== undefined);
    next.send({ ops: { epoch: 5, ops: [write(1, 0, 2)] } });
    await until('new write acked', () => next.acks().length === 1);

    // The old connection's retransmission arrives now.
    old.send({ ops: { epoch: 5, ops: [write(2, 0, 1)] } });
    await new Promise((r) => setTimeout(r, 100));
    expect((await b.device.read(0, 4096)).equals(pattern(4096, 2)), 'LBA 0 holds the new write').toBe(true);
    expect(old.acks().map((a) => a.seq)).toEqual([1]);
  });

  it('the server keepalive ends the stream of a primary that went silent', async () => {
    const lines: { msg?: string; reason?: string }[] = [];
    const log = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    const { mkdtemp, rm } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/tandem-stale-');
    const volume = new ReplicatedVolume({
      volume: 'vol1',
      node: 'b',
      logger: log,
      device: new MemoryDevice(4 * MiB),
      stateDir: dir,
      inSync: new FakeInSync('a', 'b'),
      peers: () => [],
      replicas: () => ['a'],
      canServeWrites: () => false,
    });
    await volume.open();
    // The production options with the keepalive shortened, so the test takes a second.
    const server = new grpc.Server({
      ...PEER_CHANNEL_OPTIONS,
      'grpc.keepalive_time_ms': 200,
      'grpc.keepalive_timeout_ms': 200,
    });
    addReplicationService(server, (v) => (v === 'vol1' ? volume : undefined), log);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    // A proxy that can go silent in both directions (a partition), without closing anything.
    let silent = false;
    const sockets: net.Socket[] = [];
    const proxy = net.createServer((client) => {
      const up = net.connect(port, '127.0.0.1');
      sockets.push(client, up);
      client.on('data', (d) => silent || up.write(d));
      up.on('data', (d) => silent || client.write(d));
      client.on('error', () => undefined);
      up.on('error', () => undefined);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const s = rawStream(`127.0.0.1:${(proxy.address() as net.AddressInfo).port}`);
    cleanups.push(async () => {
      s.close();
      for (const k of sockets) k.destroy();
      proxy.close();
      server.forceShutdown();
      await volume.close();
      await rm(dir, { recursive: true, force: true });
    });
    s.send(hello(5));
    await until('hello answered', () => s.received.length === 1);
    silent = true;
    await until(
      'the replica noticed the silent primary',
      () => lines.some((l) => l.msg === 'mirror stream ended'),
      5000,
    );
    expect(PEER_CHANNEL_OPTIONS['grpc.keepalive_time_ms'], 'production keepalive is on').toBeGreaterThan(0);
    expect(PEER_CHANNEL_OPTIONS['grpc.keepalive_timeout_ms']).toBeGreaterThan(0);
  });
});
