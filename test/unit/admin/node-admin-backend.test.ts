// The cluster status a node that is not the primary answers (DaemonAdminBackend.clusterStatus):
// the primary's resyncing peers with their rate and ETA come from the primary's NodeStatus over
// the admin API (issue 15), and every node's recovery after etcd lost the replica set, its own
// included, is collected (issue 14, check 4).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminBackend, NodeStatus } from '../../../src/admin/admin-backend.js';
import { AdminServer } from '../../../src/admin/admin-server.js';
import { volumeSchema } from '../../../src/admin/config-schema.js';
import {
  type ClusterHost,
  DaemonAdminBackend,
  type ServedVolume,
} from '../../../src/admin/node-admin-backend.js';
import type { Coordinator } from '../../../src/cluster/coordinator.js';
import type { SessionRegistry } from '../../../src/iscsi/session-registry.js';
import type { ReplicatedVolume } from '../../../src/replication/index.js';
import { silentLogger } from '../../../src/util/logger.js';

const MiB = 1 << 20;
const gen = { era: 'e1', epoch: 12, seq: 1 };
const resyncingB = {
  node: 'b',
  state: 'resyncing',
  resyncDoneBytes: 8 * MiB,
  resyncTotalBytes: 32 * MiB,
  resyncRateBps: 20 * MiB,
  resyncEtaSeconds: 2,
  resyncResumed: false,
};

/** Node a, the primary, as its admin API answers NodeStatus. */
const primaryStatus: NodeStatus = {
  name: 'a',
  mode: 'cluster',
  portals: [],
  admin: '',
  grpc: '',
  upSince: 1,
  sessions: [],
  volumes: [
    {
      id: 'v',
      role: 'primary',
      aluaState: 'active-optimized',
      epoch: 7,
      size: 32 * MiB,
      replication: {
        inSync: ['a', 'c'],
        peers: [
          resyncingB,
          {
            ...resyncingB,
            node: 'c',
            state: 'in-sync',
            resyncDoneBytes: 0,
            resyncTotalBytes: 0,
            resyncRateBps: 0,
          },
        ],
        resyncDone: 8 * MiB,
        resyncTotal: 32 * MiB,
      },
      recovery: {
        node: 'a',
        state: 'source',
        source: 'a',
        missing: ['b'],
        generation: gen,
        reason: 'the replica set of v was re-created from this copy (the newest data): b is resynced from it',
      },
    },
  ],
};

describe('DaemonAdminBackend: the cluster status from a node that is not the primary', () => {
  let primary: AdminServer;

  beforeAll(async () => {
    const backend = { mode: 'cluster', nodeStatus: async () => primaryStatus } as unknown as AdminBackend;
    primary = await AdminServer.listen('127.0.0.1:0', backend, silentLogger());
  });
  afterAll(async () => {
    await primary.close();
  });

  it("shows the primary's resyncing peers with rate and ETA, and each node's recovery", async () => {
    const volume = volumeSchema.parse({ id: 'v', size: 32 * MiB, replicas: ['a', 'b', 'c'] });
    const coordinator = {
      sessionState: () => 'live',
      epoch: () => 7,
      role: () => 'follower',
      members: async () => [
        { name: 'a', portals: [], grpc: '', admin: primary.address },
        { name: 'b', portals: [], grpc: '', admin: '' },
        { name: 'c', portals: [], grpc: '', admin: '' },
      ],
      portGroups: async () =>
        ['a', 'b', 'c'].map((node, i) => ({ node, targetPortGroupId: i + 1, ports: [] })),
      readConfig: async () => ({
        revision: 1,
        entries: [{ kind: 'volumes', name: 'v', value: volume, revision: 1 }],
      }),
      leader: async () => ({ volume: 'v', node: 'a', epoch: 7 }),
      readAlua: async () => undefined,
      readReplicaSet: async () => ({ dataset: 'd', inSync: ['a', 'c'] }),
    } as unknown as Coordinator;
    const served: ServedVolume = {
      volume,
      size: 32 * MiB,
      aluaState: () => 'active-non-optimized',
      replication: { status: () => ({ role: 'replica', peers: [] }) } as unknown as ReplicatedVolume,
      inSync: () => new Set(['a', 'c']),
      idle: async () => undefined,
      recovery: () => ({
        state: 'waiting-for-newest',
        source: 'a',
        missing: [],
        generation: { era: 'e1', epoch: 3, seq: 0 },
        newest: gen,
        reason: 'a holds the newest data of v: waiting for it to re-create the replica set',
      }),
    };
    const host: ClusterHost = {
      coordinator,
      members: () => [],
      served: () => [served],
      handOver: async () => undefined,
    };
    const backend = new DaemonAdminBackend({
      node: 'c',
      portals: () => [],
      admin: () => '',
      grpc: () => '',
      sessions: { sessions: () => [] } as unknown as SessionRegistry,
      portalOf: () => '',
      metricsText: async () => '',
      cluster: host,
      mode: 'cluster',
    });

    const own = await backend.nodeStatus();
    expect(own.volumes[0]?.recovery).toMatchObject({ node: 'c', state: 'waiting-for-newest', source: 'a' });

    const s = await backend.clusterStatus();
    expect(s.warnings).toEqual(['node b: no admin address registered']);
    const v = s.volumes.find((x) => x.id === 'v')!;
    expect(v.resyncPeers).toEqual([resyncingB]);
    expect(v.replicaStates.map((r) => [r.node, r.state])).toEqual([
      ['a', 'primary'],
      ['b', 'resyncing'],
      ['c', 'in-sync'],
    ]);
    // a's came through its NodeStatus over the wire, c's is this node's own.
    expect(v.recovery).toEqual([
      primaryStatus.volumes[0]!.recovery,
      {
        node: 'c',
        state: 'waiting-for-newest',
        source: 'a',
        missing: [],
        generation: { era: 'e1', epoch: 3, seq: 0 },
        newest: gen,
        reason: 'a holds the newest data of v: waiting for it to re-create the replica set',
      },
    ]);
  });
});
