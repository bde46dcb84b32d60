// DESIGN.md "Trust" (issue #12, attack 2): a Mirror stream is accepted only once the node's
// authorizer (etcd: the volume's primary at exactly the Hello's epoch, era required) says so,
// before the Hello changes anything here; its ops must carry that epoch. A refused stream leaves
// the persisted epoch, dataset and data unchanged.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { OpKind, type OpKindCode, type PrimaryMessage } from '../../../src/replication/proto.js';
import { ReplicatedVolume } from '../../../src/replication/replicated-volume.js';
import {
  addReplicationService,
  type MirrorAuthorizer,
  type MirrorClaim,
} from '../../../src/replication/server.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeInSync, MiB, pattern, rawStream, until } from './harness.js';

const ERA = 'era-1';

interface Replica {
  volume: ReplicatedVolume;
  device: MemoryDevice;
  address: string;
  claims: MirrorClaim[];
  close(): Promise<void>;
}

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

/** Replica b of vol1 whose authorizer accepts only `primary` at `epoch` (etcd's record). */
async function replica(leader: { node: string; epoch: number }): Promise<Replica> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tandem-mirror-auth-'));
  const device = new MemoryDevice(4 * MiB);
  const volume = new ReplicatedVolume({
    volume: 'vol1',
    node: 'b',
    logger: silentLogger(),
    device,
    stateDir: dir,
    inSync: new FakeInSync('a', 'b'),
    peers: () => [],
    replicas: () => ['a'],
    canServeWrites: () => false,
    era: ERA,
  });
  await volume.open();
  const claims: MirrorClaim[] = [];
  const authorizer: MirrorAuthorizer = {
    authorizeMirror: async (_call, claim) => {
      claims.push(claim);
      if (!claim.era) throw new Error('the Hello names no era');
      if (claim.primaryNode !== leader.node) throw new Error(`${claim.primaryNode} is not the primary`);
      if (claim.epoch !== leader.epoch) throw new Error(`epoch ${claim.epoch} is not etcd's`);
    },
  };
  const server = new grpc.Server();
  addReplicationService(server, (v) => (v === 'vol1' ? volume : undefined), silentLogger(), authorizer);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const r: Replica = {
    volume,
    device,
    address: `127.0.0.1:${port}`,
    claims,
    close: async () => {
      server.forceShutdown();
      await volume.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  open.push(r);
  return r;
}

const hello = (node: string, epoch: number, era = ERA): PrimaryMessage => ({
  hello: {
    volume: 'vol1',
    epoch,
    primaryNode: node,
    datasetId: 'ds1',
    regionSize: MiB,
    size: 4 * MiB,
    era,
    committedSize: 4 * MiB,
  },
});
const op = (seq: number, kind: OpKindCode, offset: number, length = 4096) => ({
  seq,
  kind,
  offset,
  length,
  data: kind === OpKind.WRITE ? pattern(length, seq) : Buffer.alloc(0),
  fua: false,
  full: false,
  datasetId: kind === OpKind.IN_SYNC ? 'forged' : '',
  resume: false,
  cleanRegions: [],
  keepDirty: false,
});

async function refused(r: Replica, first: PrimaryMessage, then: PrimaryMessage[] = []) {
  const s = rawStream(r.address);
  try {
    s.send(first);
    for (const m of then) s.send(m);
    await until('stream refused', () => s.error() !== undefined);
    expect(
      s.received.filter((m) => m.hello),
      'no HelloReply to a refused stream',
    ).toEqual([]);
    expect(
      s.received.flatMap((m) => m.acks?.acks ?? []),
      'no op acknowledged',
    ).toEqual([]);
    return s.error()!;
  } finally {
    s.close();
  }
}

describe('Mirror stream authorization', () => {
  it('refuses a member that is not the primary: no epoch persisted, no op applied', async () => {
    const r = await replica({ node: 'a', epoch: 40 });
    const err = await refused(r, hello('c', 40), [{ ops: { epoch: 40, ops: [op(1, OpKind.WRITE, 0)] } }]);
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toMatch(/^REFUSED: .*c is not the primary/);
    expect(r.volume.status().highestEpoch).toBe(0);
    expect((await r.device.read(0, 4096)).equals(Buffer.alloc(4096))).toBe(true);
  });

  it('refuses an epoch beyond the one etcd issued (2^54): never persisted', async () => {
    const r = await replica({ node: 'a', epoch: 40 });
    const err = await refused(r, hello('a', 2 ** 54));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(r.volume.status().highestEpoch).toBe(0);
    // The real primary is still accepted afterwards.
    const s = rawStream(r.address);
    try {
      s.send(hello('a', 40));
      await until('hello answered', () => s.received.length === 1);
      expect(s.received[0]!.hello!.highestEpoch).toBe(40);
    } finally {
      s.close();
    }
  });

  it('refuses a Hello with an empty era', async () => {
    const r = await replica({ node: 'a', epoch: 40 });
    const err = await refused(r, hello('a', 40, ''));
    expect(err.details).toMatch(/^REFUSED: .*era/);
    expect(r.claims.map((c) => c.era)).toEqual(['']);
    expect(r.volume.status().highestEpoch).toBe(0);
  });

  it('refuses CHECKSUM and IN_SYNC from a non-primary: nothing read back, dataset unchanged', async () => {
    const r = await replica({ node: 'a', epoch: 40 });
    await r.device.write(0, pattern(4096, 7), false);
    const err = await refused(r, hello('c', 40), [
      { ops: { epoch: 40, ops: [op(1, OpKind.CHECKSUM, 0, 1), op(2, OpKind.IN_SYNC, 0, 0)] } },
    ]);
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(r.volume.status()).toMatchObject({ datasetId: '', hasValidData: false, highestEpoch: 0 });
  });

  it('closes an authorized stream whose ops carry another epoch than its Hello', async () => {
    const r = await replica({ node: 'a', epoch: 40 });
    const s = rawStream(r.address);
    try {
      s.send(hello('a', 40));
      await until('hello answered', () => s.received.length === 1);
      s.send({ ops: { epoch: 41, ops: [op(1, OpKind.WRITE, 0)] } });
      await until('closed', () => s.error() !== undefined);
      expect(s.error()!.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(r.volume.status().highestEpoch).toBe(40);
      expect((await r.device.read(0, 4096)).equals(Buffer.alloc(4096))).toBe(true);
    } finally {
      s.close();
    }
  });
});
