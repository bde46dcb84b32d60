/**
 * How `tandemctl status` is assembled from what the coordinator holds and what each node says of
 * itself, as pure functions: the same code for a cluster and for an embedded node (whose
 * coordinator is in-process), so both answer alike.
 */
import type {
  AluaSnapshot,
  LeaderRecord,
  NodeAddresses,
  PortGroup,
  ReplicaSet,
} from '../cluster/coordinator.js';
import type {
  NodeInfo,
  NodeStatus,
  PeerReplicationState,
  ReplicaStateInfo,
  VolumeStatusInfo,
} from './admin-backend.js';
import type { VolumeConfig } from './config-schema.js';

/** Every node that ever had a port group; `up` while its session is live. */
export function nodeInfos(
  groups: readonly PortGroup[],
  members: readonly NodeAddresses[],
  statuses: ReadonlyMap<string, NodeStatus>,
): NodeInfo[] {
  const live = new Map(members.map((m) => [m.name, m]));
  return groups.map((g) => {
    const m = live.get(g.node);
    return {
      name: g.node,
      up: m !== undefined,
      portals: m ? [...m.portals] : g.ports.map((p) => p.portal),
      admin: m?.admin ?? '',
      grpc: m?.grpc ?? '',
      targetPortGroupId: g.targetPortGroupId,
      upSince: statuses.get(g.node)?.upSince ?? 0,
    };
  });
}

export interface VolumeClusterState {
  readonly leader: LeaderRecord | undefined;
  readonly alua: AluaSnapshot | undefined;
  readonly replicaSet: ReplicaSet;
}

/**
 * One volume's line: its port groups' states as the current primary published them (a snapshot
 * of another term is stale: Transitioning), resync progress as the primary reports it.
 */
export function volumeStatus(
  v: VolumeConfig,
  state: VolumeClusterState,
  groups: readonly PortGroup[],
  statuses: ReadonlyMap<string, NodeStatus>,
  luns: readonly { target?: string; lun?: number; volume?: string }[],
  servedSize: number | undefined,
  live?: ReadonlySet<string>,
): VolumeStatusInfo {
  const { leader, alua } = state;
  const r = leader ? statuses.get(leader.node)?.volumes.find((x) => x.id === v.id)?.replication : undefined;
  // Each node says how its own copy recovers after etcd lost the replica set (issue 14, check 4).
  const recovery = [...statuses.values()]
    .flatMap((s) => s.volumes.filter((x) => x.id === v.id && x.recovery).map((x) => x.recovery!))
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const replicas = v.replicas ?? groups.map((g) => g.node);
  return {
    id: v.id,
    kind: v.kind,
    size: v.size ?? servedSize ?? 0,
    replicas,
    inSync: v.kind === 'replicated' ? [...state.replicaSet.inSync] : [],
    primary: leader?.node ?? '',
    epoch: leader?.epoch ?? 0,
    portGroups: groups.map((g) => ({
      node: g.node,
      targetPortGroupId: g.targetPortGroupId,
      state:
        alua && leader && alua.epoch === leader.epoch
          ? (alua.groups.find((x) => x.targetPortGroupId === g.targetPortGroupId)?.state ?? 'unavailable')
          : 'transitioning',
    })),
    resyncDone: r?.resyncDone ?? 0,
    resyncTotal: r?.resyncTotal ?? 0,
    luns: luns.filter((l) => l.volume === v.id).map((l) => `${l.target}/${l.lun}`),
    replicaStates:
      v.kind === 'replicated'
        ? replicas.map((node) => replicaState(node, state, r?.peers ?? [], live ?? new Set(statuses.keys())))
        : [],
    recovery,
    // Rate and ETA are the primary's to measure: its links' view, whichever node answers.
    resyncPeers: (r?.peers ?? []).filter((p) => p.state === 'resyncing'),
  };
}

/**
 * One replica's state: the primary; down when its node is not live; in sync when etcd's set
 * has it; resyncing as the primary's link to it reports (with progress); else out of sync.
 */
function replicaState(
  node: string,
  state: VolumeClusterState,
  peers: readonly PeerReplicationState[],
  live: ReadonlySet<string>,
): ReplicaStateInfo {
  const none = { resyncDoneBytes: 0, resyncTotalBytes: 0 };
  if (state.leader?.node === node) return { node, state: 'primary', ...none };
  if (!live.has(node)) return { node, state: 'down', ...none };
  if (state.replicaSet.inSync.includes(node)) return { node, state: 'in-sync', ...none };
  const p = peers.find((x) => x.node === node);
  if (p?.state === 'resyncing') {
    return {
      node,
      state: 'resyncing',
      resyncDoneBytes: p.resyncDoneBytes,
      resyncTotalBytes: p.resyncTotalBytes,
    };
  }
  return { node, state: 'out-of-sync', ...none };
}
