/**
 * The contract between the admin gRPC service (admin-server.ts) and the node that serves it: the
 * composition root (src/daemon*.ts) implements `AdminBackend`; the service only translates.
 *
 * Errors: throw `TandemError` (src/util/errors.ts). The service maps its code to a gRPC status
 * (admin-proto.ts `GRPC_STATUS_OF`) and passes the code on to tandemctl in metadata; anything
 * else becomes INTERNAL.
 */
import type { ConfigKind, JsonValue } from '../cluster/coordinator.js';

export type AdminMode = 'embedded' | 'cluster';

export interface SessionInfo {
  /** Node the session is logged in to. */
  node: string;
  initiator: string;
  /** 12 hex digits. */
  isid: string;
  target: string;
  /** HOST:PORT of the portal it logged in through. */
  portal: string;
  /** Login time, ms since the epoch. */
  since: number;
  connections: number;
}

export interface PeerReplicationState {
  node: string;
  /** in-sync, resyncing, out-of-sync, unreachable, … */
  state: string;
  /** The current (or last) resync of the peer: progress, rate (bytes/s), ETA (s; 0: unknown). */
  resyncDoneBytes: number;
  resyncTotalBytes: number;
  resyncRateBps: number;
  resyncEtaSeconds: number;
  /** It continued an interrupted full resync from the peer's checkpoint. */
  resyncResumed: boolean;
}

/** One replica of a replicated volume as `tandemctl status` shows it. */
export interface ReplicaStateInfo {
  node: string;
  /** primary, in-sync, resyncing, out-of-sync (live, not in sync, not resyncing yet), down */
  state: 'primary' | 'in-sync' | 'resyncing' | 'out-of-sync' | 'down';
  resyncDoneBytes: number;
  /** 0: no resync running. */
  resyncTotalBytes: number;
}

/**
 * A replicated volume recovering after etcd lost its replica set (a config import into an empty
 * etcd; a restore and a new era), as one node reports it (issue 14, check 4).
 */
export interface VolumeRecoveryInfo {
  /** The node whose copy this is about. */
  node: string;
  /**
   * waiting-for-replicas (`missing` have not said what their copy holds: start them),
   * waiting-for-newest (`source` holds newer data and re-creates the set), waiting-for-operator
   * (copies of two etcd eras), resync-from-newest (this copy is resynced from `source`'s),
   * source (the set was re-created from this copy; `missing`: the copies not in sync yet).
   */
  state: string;
  source: string;
  missing: string[];
  /** This copy's data generation, and (waiting-for-newest) the newest copy's. */
  generation: DataGenerationInfo;
  newest?: DataGenerationInfo;
  /** In words, as the node logs it. */
  reason: string;
}

export interface DataGenerationInfo {
  era: string;
  epoch: number;
  seq: number;
}

export interface ReplicationInfo {
  inSync: string[];
  peers: PeerReplicationState[];
  /** Bytes resynced so far / to resync (0 / 0: no resync running). */
  resyncDone: number;
  resyncTotal: number;
}

export interface NodeVolumeStatus {
  id: string;
  /** primary, replica, … */
  role: string;
  /** This node's port group's ALUA state (coordinator AluaState). */
  aluaState: string;
  epoch: number;
  /** Bytes. */
  size: number;
  replication?: ReplicationInfo;
  /** Replicated: how it recovers after etcd lost its replica set, while it does. */
  recovery?: VolumeRecoveryInfo;
}

export interface NodeStatus {
  name: string;
  mode: AdminMode;
  portals: string[];
  admin: string;
  grpc: string;
  /** Start time, ms since the epoch. */
  upSince: number;
  volumes: NodeVolumeStatus[];
  sessions: SessionInfo[];
}

export interface NodeInfo {
  name: string;
  /** Its session key exists in etcd (embedded: true). */
  up: boolean;
  portals: string[];
  admin: string;
  grpc: string;
  targetPortGroupId: number;
  /** 0 when unknown (node down). */
  upSince: number;
}

export interface PortGroupStateInfo {
  node: string;
  targetPortGroupId: number;
  /** AluaState as published by the primary. */
  state: string;
}

export interface VolumeStatusInfo {
  id: string;
  kind: 'replicated' | 'shared';
  size: number;
  replicas: string[];
  inSync: string[];
  /** Empty: no primary. */
  primary: string;
  epoch: number;
  portGroups: PortGroupStateInfo[];
  resyncDone: number;
  resyncTotal: number;
  /** "<target iqn>/<lun>" of every LUN mapping the volume. */
  luns: string[];
  /** Replicated: every replica's state, in `replicas` order (shared: empty). */
  replicaStates: ReplicaStateInfo[];
  /** Every node's recovery after etcd lost the replica set (empty: none recovers). */
  recovery?: VolumeRecoveryInfo[];
  /** The primary's resyncing peers: progress, rate and ETA of each. */
  resyncPeers?: PeerReplicationState[];
}

export interface ClusterStatus {
  mode: AdminMode;
  /** The node that answered. */
  node: string;
  nodes: NodeInfo[];
  volumes: VolumeStatusInfo[];
  /** Sessions of every node that answered. */
  sessions: SessionInfo[];
  /** Partial answers, e.g. "node b: NodeStatus did not answer in 2 s". */
  warnings: string[];
}

export interface AdminConfigEntry {
  kind: ConfigKind;
  name: string;
  value: JsonValue;
  /** Mod revision (ignored by replaceConfig). */
  revision: number;
}

export interface VerifyOutcome {
  regions: number;
  /** Bytes. */
  regionSize: number;
  differing: { node: string; offset: number; length: number }[];
}

export interface SwitchoverOutcome {
  volume: string;
  from: string;
  to: string;
  epoch: number;
}

export interface AdminBackend {
  readonly mode: AdminMode;
  /** This node only. */
  nodeStatus(): Promise<NodeStatus>;
  /** The whole cluster: membership and port groups, volumes, and every node's sessions (fan-out). */
  clusterStatus(): Promise<ClusterStatus>;

  /** The desired configuration (Coordinator.readConfig). */
  readConfig(): Promise<{ revision: number; entries: AdminConfigEntry[] }>;
  /** Coordinator.putConfig: with expectedRevision only if unchanged (0: only if absent). */
  putConfig(kind: ConfigKind, name: string, value: JsonValue, expectedRevision?: number): Promise<number>;
  /** Coordinator.deleteConfig: false if it did not exist. */
  deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean>;
  /**
   * Import: the configuration becomes exactly `entries` (others deleted), in one transaction.
   * With `expectedRevision`, reject with TANDEM_ERR_CLUSTER_CONFLICT if any config entry changed
   * after that revision (the import resolved secret placeholders against that state).
   */
  replaceConfig(
    entries: readonly Omit<AdminConfigEntry, 'revision'>[],
    expectedRevision?: number,
  ): Promise<void>;

  /** Planned switchover; `to` undefined: any in-sync peer. Resolves once the new primary serves. */
  switchover(volume: string, to?: string): Promise<SwitchoverOutcome>;
  /**
   * Compares the replicas of `volume` with the primary's data. Call `onProgress` (bytes) at least
   * every few seconds: tandemctl gives up on a stream silent for 60 s.
   */
  verify(volume: string, onProgress: (done: number, total: number) => void): Promise<VerifyOutcome>;

  /** This node's Prometheus registry, text exposition format (Metrics.registry.metrics()). */
  metricsText(): Promise<string>;
}
