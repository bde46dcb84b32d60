// tandemctl status from the coordinator's records and the nodes' own statuses: the port groups'
// states come from the primary's snapshot of the current term only; resync progress from the primary.
import { describe, expect, it } from 'vitest';
import type {
  NodeStatus,
  NodeVolumeStatus,
  PeerReplicationState,
  ReplicationInfo,
} from '../../../src/admin/admin-backend.js';
import { nodeInfos, volumeStatus } from '../../../src/admin/cluster-status.js';
import { volumeSchema } from '../../../src/admin/config-schema.js';

const groups = [
  { node: 'a', targetPortGroupId: 1, ports: [{ portal: '10.0.0.1:3260', relativePortId: 1 }] },
  { node: 'b', targetPortGroupId: 2, ports: [{ portal: '10.0.0.2:3260', relativePortId: 2 }] },
];
/** A live node's status serving `volumes`. */
const node = (name: string, volumes: NodeVolumeStatus[] = []): NodeStatus => ({
  name,
  mode: 'cluster',
  portals: [],
  admin: '',
  grpc: '',
  upSince: 42,
  sessions: [],
  volumes,
});
/** Volume v at epoch 7 on a node in `role`, replicating as `replication` says. */
const replicating = (role: 'primary' | 'replica', replication: ReplicationInfo): NodeVolumeStatus => ({
  id: 'v',
  role,
  aluaState: role === 'primary' ? 'active-optimized' : 'active-non-optimized',
  epoch: 7,
  size: 1,
  replication,
});
/** A node's status; with `resync` [done, total], as the primary of v resyncing that far. */
const status = (name: string, resync?: [number, number]): NodeStatus =>
  node(
    name,
    resync
      ? [replicating('primary', { inSync: [], peers: [], resyncDone: resync[0], resyncTotal: resync[1] })]
      : [],
  );
/** One link of the primary to a peer, as its status reports it. */
const peer = (node: string, state: string, done = 0, total = 0, rate = 0, eta = 0): PeerReplicationState => ({
  node,
  state,
  resyncDoneBytes: done,
  resyncTotalBytes: total,
  resyncRateBps: rate,
  resyncEtaSeconds: eta,
  resyncResumed: false,
});

describe('cluster status', () => {
  it('nodeInfos: a node without a live session is down, with the portals of its port group', () => {
    const infos = nodeInfos(
      groups,
      [{ name: 'a', portals: ['x:1'], grpc: 'g', admin: 'ad' }],
      new Map([['a', status('a')]]),
    );
    expect(infos).toEqual([
      { name: 'a', up: true, portals: ['x:1'], admin: 'ad', grpc: 'g', targetPortGroupId: 1, upSince: 42 },
      {
        name: 'b',
        up: false,
        portals: ['10.0.0.2:3260'],
        admin: '',
        grpc: '',
        targetPortGroupId: 2,
        upSince: 0,
      },
    ]);
  });

  it('volumeStatus: states of the current term, Transitioning for a stale snapshot; resync from the primary', () => {
    const v = volumeSchema.parse({ id: 'v', size: 4096 });
    const leader = { volume: 'v', node: 'a', epoch: 7 };
    const alua = {
      volume: 'v',
      epoch: 7,
      primary: 'a',
      revision: 9,
      groups: [{ targetPortGroupId: 1, state: 'active-optimized' as const }],
    };
    const statuses = new Map([
      ['a', status('a', [10, 100])],
      ['b', status('b', [99, 99])],
    ]);
    const luns = [
      { target: 'iqn.t', lun: 0, volume: 'v' },
      { target: 'iqn.t', lun: 1, volume: 'w' },
    ];
    const s = volumeStatus(
      v,
      { leader, alua, replicaSet: { dataset: 'd', inSync: ['a'] } },
      groups,
      statuses,
      luns,
      1,
    );
    expect(s).toMatchObject({ primary: 'a', epoch: 7, inSync: ['a'], resyncDone: 10, resyncTotal: 100 });
    expect(s.luns).toEqual(['iqn.t/0']);
    expect(s.replicas).toEqual(['a', 'b']);
    expect(s.portGroups.map((g) => g.state)).toEqual(['active-optimized', 'unavailable']);
    const stale = volumeStatus(
      v,
      { leader: { ...leader, epoch: 8 }, alua, replicaSet: { dataset: 'd', inSync: ['a'] } },
      groups,
      statuses,
      luns,
      1,
    );
    expect(stale.portGroups.map((g) => g.state)).toEqual(['transitioning', 'transitioning']);
    const none = volumeStatus(
      v,
      { leader: undefined, alua: undefined, replicaSet: { dataset: undefined, inSync: [] } },
      groups,
      statuses,
      [],
      1,
    );
    expect(none).toMatchObject({ primary: '', epoch: 0, resyncDone: 0, resyncTotal: 0, luns: [] });
  });
});

describe('replica states', () => {
  it('primary, in-sync, resyncing with the progress of its link, out-of-sync, down — one per replica', () => {
    const v = volumeSchema.parse({ id: 'v', size: 4096, replicas: ['a', 'b', 'c', 'd', 'e'] });
    const primary = node('a', [
      replicating('primary', {
        inSync: ['a', 'b'],
        peers: [peer('b', 'in-sync'), peer('c', 'resyncing', 30, 120), peer('d', 'connecting')],
        resyncDone: 30,
        resyncTotal: 120,
      }),
    ]);
    const s = volumeStatus(
      v,
      {
        leader: { volume: 'v', node: 'a', epoch: 7 },
        alua: undefined,
        replicaSet: { dataset: 'd', inSync: ['a', 'b'] },
      },
      groups,
      new Map([['a', primary]]),
      [],
      1,
      new Set(['a', 'b', 'c', 'd']),
    );
    expect(s.replicaStates.map((r) => [r.node, r.state, r.resyncDoneBytes, r.resyncTotalBytes])).toEqual([
      ['a', 'primary', 0, 0],
      ['b', 'in-sync', 0, 0],
      ['c', 'resyncing', 30, 120],
      ['d', 'out-of-sync', 0, 0],
      ['e', 'down', 0, 0],
    ]);
    const shared = volumeSchema.parse({ id: 'v', kind: 'shared', size: 4096 });
    expect(
      volumeStatus(
        shared,
        { leader: undefined, alua: undefined, replicaSet: { dataset: undefined, inSync: [] } },
        groups,
        new Map(),
        [],
        1,
      ).replicaStates,
    ).toEqual([]);
  });
});

describe('cluster status from any node: recovery and the resyncing peers', () => {
  it("resyncPeers: the primary's resyncing links with rate and ETA, also when another node answers", () => {
    const v = volumeSchema.parse({ id: 'v', size: 4096, replicas: ['a', 'b', 'c'] });
    const primary = node('a', [
      replicating('primary', {
        inSync: ['a'],
        peers: [peer('b', 'resyncing', 30, 120, 20 << 20, 5), peer('c', 'in-sync')],
        resyncDone: 30,
        resyncTotal: 120,
      }),
    ]);
    // The answering node is c: a's own NodeStatus came through the fan-out.
    const replica = node('c', [
      replicating('replica', {
        inSync: [],
        peers: [peer('a', 'resyncing', 1, 2, 3, 4)],
        resyncDone: 0,
        resyncTotal: 0,
      }),
    ]);
    const s = volumeStatus(
      v,
      {
        leader: { volume: 'v', node: 'a', epoch: 7 },
        alua: undefined,
        replicaSet: { dataset: 'd', inSync: ['a', 'c'] },
      },
      groups,
      new Map([
        ['c', replica],
        ['a', primary],
      ]),
      [],
      1,
    );
    expect(s.resyncPeers).toEqual([peer('b', 'resyncing', 30, 120, 20 << 20, 5)]);
    const noPrimary = volumeStatus(
      v,
      { leader: undefined, alua: undefined, replicaSet: { dataset: 'd', inSync: ['c'] } },
      groups,
      new Map([['a', primary]]),
      [],
      1,
    );
    expect(noPrimary.resyncPeers).toEqual([]);
  });

  it('recovery: every node says how its copy recovers, by node name; nodes without one say nothing', () => {
    const v = volumeSchema.parse({ id: 'v', size: 4096, replicas: ['a', 'b', 'c'] });
    const gen = { era: 'e1', epoch: 0, seq: 0 };
    const waiting = (id: string, name: string, state: string, source: string, reason: string) => ({
      id,
      role: 'replica',
      aluaState: 'unavailable',
      epoch: 0,
      size: 1,
      recovery: { node: name, state, source, missing: [], generation: gen, reason },
    });
    const recovering = (name: string, state: string, source: string): NodeStatus =>
      node(name, [
        waiting('v', name, state, source, `${name} ${state}`),
        waiting('w', name, 'source', name, 'w'),
      ]);
    const s = volumeStatus(
      v,
      { leader: undefined, alua: undefined, replicaSet: { dataset: undefined, inSync: [] } },
      groups,
      new Map([
        ['c', recovering('c', 'waiting-for-newest', 'a')],
        ['a', status('a')],
        ['b', recovering('b', 'waiting-for-replicas', '')],
      ]),
      [],
      1,
    );
    expect(s.recovery?.map((r) => [r.node, r.state, r.source, r.reason])).toEqual([
      ['b', 'waiting-for-replicas', '', 'b waiting-for-replicas'],
      ['c', 'waiting-for-newest', 'a', 'c waiting-for-newest'],
    ]);
  });
});
