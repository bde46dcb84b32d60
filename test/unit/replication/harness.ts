// In-process replication clusters for the unit tests: one gRPC server per node on 127.0.0.1:0,
// a shared fake in-sync set (etcd's role), memory devices (optionally slowed down).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { BlockDevice, Extent } from '../../../src/backstore/block-device.js';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import {
  type OpMessage,
  type PrimaryMessage,
  type ReplicaMessage,
  type ReplicationServiceClient,
  replicationPackage,
} from '../../../src/replication/proto.js';
import { ReplicatedVolume } from '../../../src/replication/replicated-volume.js';
import type { InSyncSet, ReplicationTiming } from '../../../src/replication/replication-interface.js';
import { addReplicationService } from '../../../src/replication/server.js';
import { silentLogger } from '../../../src/util/logger.js';
import { PEER_CHANNEL_OPTIONS } from '../../../src/util/proto.js';

export const MiB = 1 << 20;

/** etcd's in-sync set, with injectable latency and failures. */
export class FakeInSync implements InSyncSet {
  readonly set = new Set<string>();
  removeDelayMs = 0;
  /** remove() rejects while this is > 0 (decremented per call); Infinity: always. */
  failRemoves = 0;
  readonly log: string[] = [];
  /** When each remove() resolved (Date.now()). */
  readonly removedAt = new Map<string, number>();

  constructor(...nodes: string[]) {
    for (const n of nodes) this.set.add(n);
  }

  members(): ReadonlySet<string> {
    return this.set;
  }

  async remove(node: string, epoch: number): Promise<void> {
    this.log.push(`remove ${node} @${epoch}`);
    if (this.removeDelayMs) await sleep(this.removeDelayMs);
    if (this.failRemoves > 0) {
      this.failRemoves--;
      throw new Error('etcd: lost leadership');
    }
    this.set.delete(node);
    this.removedAt.set(node, Date.now());
  }

  async add(node: string, epoch: number): Promise<void> {
    this.log.push(`add ${node} @${epoch}`);
    this.set.add(node);
  }
}

/** A device whose writes, discards and flushes take `delayMs` (and can be made to fail). */
export class SlowDevice implements BlockDevice {
  delayMs = 0;
  fail = false;
  readonly discardGranularity: number;
  constructor(readonly inner: MemoryDevice) {
    this.discardGranularity = inner.discardGranularity;
  }
  get size(): number {
    return this.inner.size;
  }
  get description(): string {
    return 'slow-memory';
  }
  read(offset: number, length: number): Promise<Buffer> {
    return this.inner.read(offset, length);
  }
  async #wait(): Promise<void> {
    if (this.delayMs) await sleep(this.delayMs);
    if (this.fail) throw new Error('injected I/O error');
  }
  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    await this.#wait();
    await this.inner.write(offset, data, fua);
  }
  async discard(offset: number, length: number): Promise<void> {
    await this.#wait();
    await this.inner.discard(offset, length);
  }
  async flush(): Promise<void> {
    await this.#wait();
  }
  allocation(offset: number, length: number): Promise<Extent> {
    return this.inner.allocation(offset, length);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface TestNode {
  readonly name: string;
  volume: ReplicatedVolume;
  readonly device: SlowDevice;
  server: grpc.Server;
  address: string;
  stateDir: string;
  canServe: boolean;
  /** Restarts the gRPC server on a new port (after kill()). */
  restart(): Promise<void>;
  kill(): void;
}

export interface Cluster {
  readonly nodes: Map<string, TestNode>;
  readonly inSync: FakeInSync;
  /** Nodes the others see as live. */
  readonly live: Set<string>;
  node(name: string): TestNode;
  /** Reopens a node's volume over the same device and state directory. */
  reopen(name: string): Promise<ReplicatedVolume>;
  /** The node dies: it stops serving, its server goes, the others no longer see it, its volume closes. */
  crash(name: string): Promise<void>;
  /** A crashed node returns on the same store (memory here: it survives) and state directory, live again. */
  rejoin(name: string): Promise<void>;
  close(): Promise<void>;
}

export const FAST: Partial<ReplicationTiming> = {
  ackTimeoutMs: 1000,
  connectDeadlineMs: 500,
  cleanAfterMs: 2000,
  reconnectMs: 100,
};

export async function cluster(opts: {
  names: string[];
  size: number;
  inSync?: string[];
  timing?: Partial<ReplicationTiming>;
  regionSize?: number;
  device?: (name: string) => BlockDevice;
  /** The volume's minInSync, read per write (absent: 1). */
  minInSync?: () => number;
  /** Each node's view of the in-sync set (absent: the shared fake, etcd itself). */
  inSyncOf?: (name: string, truth: FakeInSync) => InSyncSet;
}): Promise<Cluster> {
  const inSync = new FakeInSync(...(opts.inSync ?? []));
  const live = new Set(opts.names);
  const nodes = new Map<string, TestNode>();
  const stores = new Map<string, BlockDevice>();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-repl-'));
  const log = silentLogger();

  const makeVolume = (n: TestNode, device: BlockDevice) =>
    new ReplicatedVolume({
      volume: 'vol1',
      node: n.name,
      logger: log,
      device,
      stateDir: n.stateDir,
      inSync: opts.inSyncOf?.(n.name, inSync) ?? inSync,
      peers: () =>
        [...nodes.values()]
          .filter((p) => p.name !== n.name && live.has(p.name))
          .map((p) => ({ node: p.name, address: p.address })),
      replicas: () => opts.names.filter((x) => x !== n.name),
      canServeWrites: () => n.canServe,
      ...(opts.minInSync ? { minInSync: opts.minInSync } : {}),
      ...(opts.regionSize ? { regionSize: opts.regionSize } : {}),
      timing: { ...FAST, ...opts.timing },
    });

  const listen = async (n: TestNode) => {
    const server = new grpc.Server();
    addReplicationService(server, (v) => (v === 'vol1' ? n.volume : undefined), log);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    n.server = server;
    n.address = `127.0.0.1:${port}`;
  };

  for (const name of opts.names) {
    const device = new SlowDevice(new MemoryDevice(opts.size));
    const n: TestNode = {
      name,
      device,
      stateDir: path.join(root, name),
      canServe: false,
      server: undefined as unknown as grpc.Server,
      address: '',
      volume: undefined as unknown as ReplicatedVolume,
      restart: () => listen(n),
      kill: () => n.server.forceShutdown(),
    };
    const store = opts.device?.(name) ?? device;
    stores.set(name, store);
    n.volume = makeVolume(n, store);
    await n.volume.open();
    await listen(n);
    nodes.set(name, n);
  }

  const reopen = async (name: string) => {
    const n = nodes.get(name)!;
    await n.volume.close();
    // The same store the node was made with (opts.device's, else the memory one).
    n.volume = makeVolume(n, stores.get(name)!);
    await n.volume.open();
    return n.volume;
  };

  return {
    nodes,
    inSync,
    live,
    node: (name) => nodes.get(name)!,
    reopen,
    crash: async (name) => {
      const n = nodes.get(name)!;
      n.canServe = false;
      n.kill();
      live.delete(name);
      await n.volume.close();
    },
    rejoin: async (name) => {
      const n = nodes.get(name)!;
      n.device.close = () => Promise.resolve();
      await reopen(name);
      await n.restart();
      live.add(name);
    },
    close: async () => {
      for (const n of nodes.values()) {
        await n.volume.close().catch(() => undefined);
        n.server.forceShutdown();
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Every node takes dataset ds1, `primary` becomes primary at epoch 1; resolves with it once
 * every one of `peers` is in sync with it.
 */
export async function primaryInSync(cl: Cluster, primary: string, ...peers: string[]): Promise<TestNode> {
  for (const n of cl.nodes.values()) await n.volume.initDataset('ds1');
  const p = cl.node(primary);
  p.canServe = true;
  await p.volume.becamePrimary(1);
  await until(`${peers.join(' and ')} in sync`, () => inSyncWith(p.volume, ...peers));
  return p;
}

/** Every one of `nodes` is an in-sync peer of `v`'s primary. */
export function inSyncWith(v: ReplicatedVolume, ...nodes: string[]): boolean {
  return nodes.every((n) => peerState(v, n) === 'in-sync');
}

export function peerState(v: ReplicatedVolume, node: string): string | undefined {
  return v.status().peers.find((p) => p.node === node)?.state;
}

/** Deterministic pseudo-random bytes. */
export function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i += 4) {
    x = (x * 1103515245 + 12345) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

export async function sameContents(a: BlockDevice, b: BlockDevice): Promise<boolean> {
  const chunk = 1 << 20;
  for (let off = 0; off < a.size; off += chunk) {
    const n = Math.min(chunk, a.size - off);
    if (!(await a.read(off, n)).equals(await b.read(off, n))) return false;
  }
  return true;
}

/** A hand-driven Mirror stream to `address` (plaintext), as a primary or an intruder would open it. */
export function rawStream(address: string) {
  const Ctor = replicationPackage().Replication;
  const client = new Ctor(
    address,
    grpc.credentials.createInsecure(),
    PEER_CHANNEL_OPTIONS,
  ) as unknown as ReplicationServiceClient;
  const stream = client.Mirror();
  const received: ReplicaMessage[] = [];
  let error: grpc.ServiceError | undefined;
  stream.on('data', (m: ReplicaMessage) => received.push(m));
  stream.on('error', (e: grpc.ServiceError) => {
    error = e;
  });
  return {
    send: (m: PrimaryMessage) => stream.write(m),
    received,
    acks: () => received.flatMap((m) => m.acks?.acks ?? []),
    error: () => error,
    close: () => {
      stream.cancel();
      client.close();
    },
  };
}

/** One op as a primary sends it on the Mirror stream: `fields` over a plain, empty op. */
export function wireOp(fields: Partial<OpMessage> & Pick<OpMessage, 'seq' | 'kind'>): OpMessage {
  const data = fields.data ?? Buffer.alloc(0);
  return {
    offset: 0,
    length: data.length,
    data,
    fua: false,
    full: false,
    datasetId: '',
    resume: false,
    cleanRegions: [],
    keepDirty: false,
    ...fields,
  };
}
