// Issue #12, attacks 2 and 3, against a 2-node replicated cluster (DESIGN.md Trust): a Mirror
// stream is accepted only from the node etcd records as the volume's primary at exactly the
// stream's epoch, era required, and CHECKSUM only from it; a refused stream leaves the replica's
// persisted epoch (and its link to the real primary) as they were. A volume path from the
// cluster configuration outside the node's data directory is refused and no file is created.
//
// The streams use a node's own certificate when the node files have `tls` (the caller is then
// the certificate's node); on plaintext the caller is the Hello's primaryNode, named to match.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  OpKind,
  type PrimaryMessage,
  type ReplicaMessage,
  type ReplicationServiceClient,
  replicationPackage,
} from '../../src/replication/proto.js';
import { PEER_CHANNEL_OPTIONS } from '../../src/util/proto.js';
import { type Cluster, startCluster, TANDEMCTL, tandemctl } from '../helpers/cluster.js';
import { explain } from '../helpers/tools.js';

const PREFIX = '/tandem/local/';
const VOLUME = 'vol0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | false, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * How node `as` of `cluster` connects to node `to`: with its own certificate when the node file
 * has a `tls` section (mutual TLS; node certificates name the node as a DNS SAN), else plaintext.
 */
function channelAs(cluster: Cluster, as: string, to: string) {
  const info = cluster.info.nodes.find((n) => n.name === as)!;
  const cfg = YAML.parse(readFileSync(info.config, 'utf8')) as {
    node: { dataDir: string };
    tls?: { ca: string; cert: string; key: string };
    insecure?: boolean;
  };
  if (!cfg.tls || cfg.insecure) return { credentials: grpc.credentials.createInsecure(), options: {} };
  const dataDir = path.resolve(path.dirname(info.config), cfg.node.dataDir);
  const read = (f: string) => readFileSync(path.resolve(dataDir, f));
  return {
    credentials: grpc.credentials.createSsl(read(cfg.tls.ca), read(cfg.tls.key), read(cfg.tls.cert)),
    options: { 'grpc.ssl_target_name_override': to },
  };
}

/** A hand-driven Mirror stream: sends `messages`, resolves with how it ended (or after 10 s). */
async function mirror(
  channel: { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions },
  address: string,
  messages: PrimaryMessage[],
) {
  const Ctor = replicationPackage().Replication;
  const client = new Ctor(address, channel.credentials, {
    ...PEER_CHANNEL_OPTIONS,
    ...channel.options,
  }) as unknown as ReplicationServiceClient;
  const stream = client.Mirror();
  const received: ReplicaMessage[] = [];
  let error: grpc.ServiceError | undefined;
  stream.on('data', (m: ReplicaMessage) => received.push(m));
  stream.on('error', (e: grpc.ServiceError) => {
    error = e;
  });
  for (const m of messages) stream.write(m);
  try {
    await until('the replica to end the stream', () => error, 10_000);
  } finally {
    stream.cancel();
    client.close();
  }
  return { error: error!, received, acks: received.flatMap((m) => m.acks?.acks ?? []) };
}

describe('replication trust: Mirror streams only from the primary; backing paths in the data directory', () => {
  let cluster: Cluster;
  let etcd: Etcd3;
  let primary: string;
  let replica: string;
  let replicaGrpc: string;
  let epoch: number;
  let era: string;
  let admin: string;

  const metaFile = () => path.join(cluster.dir, replica, 'replication', `${VOLUME}.meta.json`);
  const persisted = () => JSON.parse(readFileSync(metaFile(), 'utf8')) as { highestEpoch: number };
  const hello = (over: Partial<NonNullable<PrimaryMessage['hello']>> = {}): PrimaryMessage => ({
    hello: {
      volume: VOLUME,
      epoch,
      primaryNode: primary,
      datasetId: '',
      regionSize: 1 << 20,
      size: 64 << 20,
      era,
      committedSize: 64 << 20,
      ...over,
    },
  });
  const refusedHere = (since: number) =>
    cluster
      .node(replica)
      .logs()
      .slice(since)
      .filter((l) => l.msg === 'mirror stream refused');

  beforeAll(async () => {
    if (!existsSync(TANDEMCTL)) throw new Error(`${TANDEMCTL} not found: run \`npm run build\` first`);
    cluster = await startCluster({ nodes: 2, kind: 'replicated', size: '64M', ttl: 5 });
    etcd = new Etcd3(cluster.etcdOptions());
    const leaderKey = `${PREFIX}leaders/${VOLUME}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await etcd.get(leaderKey).exec();
      const k = r.kvs[0];
      if (k) {
        primary = (JSON.parse(k.value.toString()) as { node: string }).node;
        epoch = Number(k.create_revision);
        break;
      }
      if (Date.now() > deadline) throw new Error('no primary for vol0');
      await sleep(100);
    }
    era = (JSON.parse((await etcd.get(`${PREFIX}era`).string())!) as { id: string }).id;
    replica = cluster.names.find((n) => n !== primary)!;
    replicaGrpc = cluster.info.nodes.find((n) => n.name === replica)!.grpc!;
    admin = cluster.node(primary).admin!;
    const w = await tandemctl(admin, ['wait', VOLUME, '--in-sync', '--wait', '60'], 90_000);
    expect(w.code, explain(w)).toBe(0);
    expect(persisted().highestEpoch).toBe(epoch);
  }, 120_000);

  afterAll(async () => {
    etcd?.close();
    await cluster?.destroy();
  });

  it('refuses a member that is not the primary; the persisted epoch stays', async () => {
    const since = cluster.node(replica).logs().length;
    const r = await mirror(channelAs(cluster, replica, replica), replicaGrpc, [
      hello({ primaryNode: replica, epoch: epoch + 1 }),
      { ops: { epoch: epoch + 1, ops: [] } },
    ]);
    expect(r.error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(r.error.details).toMatch(new RegExp(`^REFUSED: ${replica} is not the primary of ${VOLUME}`));
    expect(r.received).toEqual([]);
    expect(persisted().highestEpoch).toBe(epoch);
    expect(refusedHere(since)).toHaveLength(1);
  });

  it("refuses an epoch beyond etcd's (2^54) even naming the primary: never persisted", async () => {
    const r = await mirror(channelAs(cluster, primary, replica), replicaGrpc, [hello({ epoch: 2 ** 54 })]);
    expect(r.error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(r.error.details).toMatch(/is not vol0's current epoch/);
    expect(persisted().highestEpoch).toBe(epoch);
  });

  it('refuses a Hello with an empty era', async () => {
    const r = await mirror(channelAs(cluster, primary, replica), replicaGrpc, [hello({ era: '' })]);
    expect(r.error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(r.error.details).toMatch(/names no etcd era/);
    expect(persisted().highestEpoch).toBe(epoch);
  });

  it('refuses CHECKSUM from a non-primary: nothing read back', async () => {
    const op = {
      seq: 1,
      kind: OpKind.CHECKSUM,
      offset: 0,
      length: 1,
      data: Buffer.alloc(0),
      fua: false,
      full: false,
      datasetId: '',
      resume: false,
      cleanRegions: [],
      keepDirty: false,
    };
    const r = await mirror(channelAs(cluster, replica, replica), replicaGrpc, [
      hello({ primaryNode: replica }),
      { ops: { epoch, ops: [op, { ...op, seq: 2, offset: 1 }] } },
    ]);
    expect(r.error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(r.acks).toEqual([]);
  });

  it("the refused streams left the real primary's stream alone: the replica is still in sync", async () => {
    const w = await tandemctl(admin, ['wait', VOLUME, '--in-sync', '--wait', '5'], 30_000);
    expect(w.code, explain(w)).toBe(0);
    const ended = cluster
      .node(replica)
      .logs()
      .filter((l) => l.msg === 'mirror stream ended');
    expect(ended, 'no accepted stream was closed').toEqual([]);
    expect(persisted().highestEpoch).toBe(epoch);
  });

  it.each([
    ['../../x', (dir: string) => path.resolve(dir, '../../x')],
    ['/etc/passwd', () => '/etc/passwd'],
    // In the data directory, but the node's own state.
    ['replication/vol0.meta.json', (dir: string) => path.join(dir, 'replication/vol0.meta.json')],
  ])('PutConfig of a volume with path %s is refused; no file is created', async (p, file) => {
    const outside = file(path.join(cluster.dir, replica));
    const before = existsSync(outside);
    const r = await tandemctl(admin, ['volume', 'create', 'evil', '--size', '1M', '--path', p]);
    expect(r.code, explain(r)).not.toBe(0);
    expect(r.stderr).toContain(`volumes/evil path ${JSON.stringify(p)} refused`);
    expect(r.stderr).toMatch(/outside the data directory|is this node's own state/);
    expect(existsSync(outside)).toBe(before);
  });

  it('config import of a volume with path /etc/shadow is refused; the configuration is unchanged', async () => {
    const exported = await tandemctl(admin, ['config', 'export']);
    expect(exported.code, explain(exported)).toBe(0);
    const doc = YAML.parse(exported.stdout) as { volumes: Record<string, unknown> };
    doc.volumes.evil3 = {
      id: 'evil3',
      kind: 'replicated',
      size: 1 << 20,
      blockSize: 512,
      path: '/etc/shadow',
    };
    const file = path.join(cluster.dir, 'evil-config.yaml');
    writeFileSync(file, YAML.stringify(doc));
    const r = await tandemctl(admin, ['config', 'import', file]);
    expect(r.code, explain(r)).not.toBe(0);
    expect(r.stderr).toContain('volumes/evil3 path "/etc/shadow" refused');
    const after = await tandemctl(admin, ['config', 'export']);
    expect(after.stdout).toBe(exported.stdout);
  });

  it('a volume written to etcd directly with such a path is not served by any node; no file is created', async () => {
    const since = Object.fromEntries(cluster.names.map((n) => [n, cluster.node(n).logs().length]));
    // A name of its own per run: the file must not exist outside before or after.
    const file = `../../tandem-evil-${process.pid}-${Date.now()}.img`;
    const vol = { id: 'evil2', kind: 'replicated', size: 1 << 20, blockSize: 512, path: file };
    const target = cluster.target;
    await etcd.put(`${PREFIX}config/volumes/evil2`).value(JSON.stringify(vol));
    await etcd
      .put(`${PREFIX}config/luns/${encodeURIComponent(`${target},5`)}`)
      .value(JSON.stringify({ target, lun: 5, volume: 'evil2' }));
    for (const n of cluster.names) {
      const line = await until(`${n} refusing evil2`, () =>
        cluster
          .node(n)
          .logs()
          .slice(since[n])
          .find((l) => l.msg === 'cannot serve LUN' && l.volume === 'evil2'),
      );
      expect(JSON.stringify(line)).toContain(`volumes/evil2 path \\"${file}\\" refused`);
      expect(existsSync(path.resolve(cluster.dir, n, file))).toBe(false);
    }
    await etcd.delete().key(`${PREFIX}config/luns/${encodeURIComponent(`${target},5`)}`);
    await etcd.delete().key(`${PREFIX}config/volumes/evil2`);
  });
});
