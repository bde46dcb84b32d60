/**
 * The Coordinator: the only way cluster state reaches a node (DESIGN.md "Layers"). Two
 * implementations: `EtcdCoordinator` (etcd, npm `etcd3`) and `EmbeddedCoordinator` (one node,
 * in-process, no etcd). src/daemon.ts builds one and adapts it to the narrow ports that src/scsi
 * owns (ALUA source, reservation store); nothing below the daemon knows which one it has.
 *
 * Everything a node must agree on with its peers lives here: membership, cluster-unique ids,
 * who is primary of each volume (and with which epoch), ALUA state, persistent reservations and
 * the desired configuration. Values are JSON; revisions are etcd revisions (safe integers).
 */
import type { AccessState } from '../scsi/alua.js';
import type { Logger } from '../util/logger.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What a node announces about itself while it is alive (a leased key: gone when the node is). */
export interface NodeAddresses {
  /** Node name, unique in the cluster (the node file's `node.name`). */
  readonly name: string;
  /** iSCSI portals, HOST:PORT, in the order of the node's configuration. */
  readonly portals: readonly string[];
  /** Replication / command-forwarding gRPC address, HOST:PORT. */
  readonly grpc: string;
  /** Admin API address, HOST:PORT. */
  readonly admin: string;
}

/** One relative target port (SPC-4 3.1.120) of a node: one iSCSI portal. */
export interface PortId {
  readonly portal: string;
  /** Cluster-unique, 1..65535, allocated once, never reused or changed. */
  readonly relativePortId: number;
}

/** A node's SCSI target port group and its ports, as REPORT TARGET PORT GROUPS lists them. */
export interface PortGroup {
  readonly node: string;
  /** Cluster-unique, 1..65535, allocated once per node name, never changed. */
  readonly targetPortGroupId: number;
  /** Sorted by relativePortId. */
  readonly ports: readonly PortId[];
}

/**
 * SPC-4 6.37 asymmetric access states Tandem uses (implicit ALUA): the SCSI engine's names, so
 * what the cluster stores is what the engine reports.
 */
export type AluaState = AccessState;

/** The ALUA state of every target port group for one volume, as the primary published it. */
export interface AluaSnapshot {
  readonly volume: string;
  /** Epoch of the primary that published it. */
  readonly epoch: number;
  /** Node name of that primary. */
  readonly primary: string;
  /** Sorted by targetPortGroupId. Groups not listed are to be reported Unavailable. */
  readonly groups: readonly { readonly targetPortGroupId: number; readonly state: AluaState }[];
  /** Revision of this snapshot: the same number on every node for the same snapshot. */
  readonly revision: number;
}

/** A value with the revision it was read at (0: the key does not exist). */
export interface Versioned<T> {
  readonly value: T | undefined;
  readonly revision: number;
}

export type CasResult<T> =
  | { readonly ok: true; readonly revision: number }
  | { readonly ok: false; readonly current: Versioned<T> };

/** The primary of a volume. */
export interface LeaderRecord {
  readonly volume: string;
  readonly node: string;
  /** The election key's create revision (safety rule 3). */
  readonly epoch: number;
}

/**
 * Election role of this node for one volume. Changes go through one guarded transition that
 * logs `FROM -> TO`:
 *   idle -> candidate (campaign) -> leader (won) -> fenced (lost: any reason) -> candidate | idle
 *   candidate -> idle (resign); leader -> idle (resign, after leadershipLost); any -> closed.
 */
export type ElectionRole = 'idle' | 'candidate' | 'leader' | 'fenced' | 'closed';

/**
 * The node's session with the cluster (etcd lease): `live` while keep-alives are confirmed in
 * time; `fenced` the moment they are overdue (or etcd says the lease is gone), then `connecting`
 * until a new lease is granted. A node whose session is not `live` must report its port groups
 * Unavailable (DESIGN.md Roles and ALUA: a peer that has lost etcd).
 */
export type SessionState = 'idle' | 'connecting' | 'live' | 'fenced' | 'closed';

export type LeadershipLossReason =
  /** No keep-alive confirmed within the fencing window (self-fencing, safety rule 4). */
  | 'lease-renewal-overdue'
  /** etcd said the lease is gone (expired or revoked). */
  | 'lease-expired'
  /** The election key disappeared or changed owner (an operator, or a bug). */
  | 'key-deleted'
  | 'resigned'
  | 'closed';

export interface CoordinatorEvents {
  /** This node became primary of `volume`; `epoch` is new and higher than any before it. */
  leadershipAcquired: (e: { volume: string; epoch: number }) => void;
  /**
   * THE leadership-lost event: fired exactly once per term (per acquired epoch), whatever the
   * reason. `canServeWrites(volume)` is already false when it fires; the handler's first job is
   * to stop executing media commands for the volume, before anything else (STYLE.md).
   */
  leadershipLost: (e: { volume: string; epoch: number; reason: LeadershipLossReason }) => void;
  /** The session changed state (see SessionState). */
  session: (e: { from: SessionState; to: SessionState }) => void;
}

/** A replicated volume's replica set as etcd holds it (DESIGN.md safety rule 2). */
export interface ReplicaSet {
  /** The data lineage id, created with the volume's first replica; absent: not created yet. */
  readonly dataset: string | undefined;
  /** Nodes known to hold every acknowledged write, sorted. Only they may become primary. */
  readonly inSync: readonly string[];
}

/**
 * What a node's copy of a replicated volume holds, published when etcd has no replica set for
 * the volume (a config import into an empty etcd): the copy with the newest data founds the set
 * again (issue 14, finding 4; docs/replication.md "When etcd forgets"). `era`, `epoch` and `seq`
 * are the copy's data generation (replication metadata).
 */
export interface DataClaim {
  readonly valid: boolean;
  readonly dataset: string;
  readonly era: string;
  readonly epoch: number;
  readonly seq: number;
}

export interface ResignOptions {
  /** The node the role is handed to (planned switchover). */
  readonly to?: string;
}

export interface CampaignOptions {
  /**
   * Replicated volumes: campaign only while this node is in the volume's in-sync set, checked
   * in the same etcd transaction that takes the election key (a stale replica never promotes).
   */
  readonly requireInSync?: boolean;
}

export interface Subscription {
  close(): Promise<void>;
}

/** Kinds of desired-configuration objects; each object is `config/<kind>/<name>`. */
export const CONFIG_KINDS = ['targets', 'volumes', 'luns', 'portals', 'acls', 'chap', 'settings'] as const;
export type ConfigKind = (typeof CONFIG_KINDS)[number];

export interface ConfigEntry {
  readonly kind: ConfigKind;
  readonly name: string;
  readonly value: JsonValue;
  /** Mod revision of this entry. */
  readonly revision: number;
}

/**
 * What a config watch delivers: first a `snapshot` (the whole configuration at `revision`), then
 * every change in revision order. After a gap the watch cannot bridge (etcd compaction), a new
 * `snapshot` replaces everything: reconcile against it, not incrementally.
 */
export type ConfigEvent =
  | { readonly type: 'snapshot'; readonly revision: number; readonly entries: readonly ConfigEntry[] }
  | { readonly type: 'put'; readonly revision: number; readonly entry: ConfigEntry }
  | { readonly type: 'delete'; readonly revision: number; readonly kind: ConfigKind; readonly name: string };

/** Per-volume listener: `value` undefined means the key was deleted (or never written). */
export type VolumeListener<T> = (volume: string, value: T | undefined, revision: number) => void;

export interface CoordinatorOptions {
  /** This node's identity and addresses (registered on a leased key in start()). */
  readonly node: NodeAddresses;
  readonly logger: Logger;
  /** Lease TTL in whole seconds (etcd's unit). Default 5. */
  readonly leaseTtlSeconds?: number;
  /**
   * How long before the lease could expire on the etcd side this node stops serving writes
   * (safety rule 4). Default max(1000 ms, 30 % of the TTL). See fencing.ts for the math.
   */
  readonly fenceMarginMs?: number;
}

/**
 * The Coordinator is the combination of the interfaces below, one per concern; a consumer that
 * needs one concern can take just that one. Both implementations provide all of them.
 */

/** The node's session with the cluster and its lifecycle. */
export interface CoordinatorSession {
  readonly kind: 'embedded' | 'etcd';
  readonly nodeName: string;

  /** Connects, obtains the session lease, registers this node. Resolves once the session is live. */
  start(): Promise<void>;
  /** Resigns every volume (leadershipLost 'closed'), revokes the lease, closes watches. Idempotent. */
  close(): Promise<void>;
  sessionState(): SessionState;
  on<E extends keyof CoordinatorEvents>(event: E, listener: CoordinatorEvents[E]): () => void;
}

export interface Membership {
  /** Nodes whose session is live (their leased key exists), sorted by name. */
  members(): Promise<NodeAddresses[]>;
  /** Delivers the full member list now and after every change. */
  watchMembers(listener: (members: NodeAddresses[]) => void): Promise<Subscription>;
}

/** Identity, allocated once and stable across restarts. */
export interface IdentityStore {
  /**
   * Allocates (first time) or reads this node's target port group id and one relative target
   * port id per portal of `node.portals`. Calling it again, in this or a later process with the
   * same node name and portals, returns the same numbers.
   */
  allocatePortGroup(): Promise<PortGroup>;
  /** Every node's port group ever allocated (RTPG lists them all), sorted by targetPortGroupId. */
  portGroups(): Promise<PortGroup[]>;
  /**
   * The volume's identity seed (the NAA-6 designator and unit serial number derive from it):
   * created once — `proposal` if given, else random — and returned unchanged forever after.
   */
  volumeSeed(volume: string, proposal?: string): Promise<string>;
}

/** Per-volume election. */
export interface Election {
  /** Starts campaigning for `volume` (idempotent). The outcome comes as events and role(). */
  campaign(volume: string, options?: CampaignOptions): void;
  /**
   * Stops campaigning; a leader gives up its key (leadershipLost 'resigned' first). `to`: a
   * planned switchover to that node — the other candidates hold back until it has taken the key
   * or this node campaigns again (the hand-over is then over).
   */
  resign(volume: string, options?: ResignOptions): Promise<void>;
  role(volume: string): ElectionRole;
  /** This node's epoch for `volume` while it is leader (or fenced in that term), else undefined. */
  epoch(volume: string): number | undefined;
  /**
   * Synchronous, on the monotonic clock: true only while this node is leader of `volume` AND its
   * last confirmed keep-alive was sent less than the fencing window ago. Check it immediately
   * before executing every media command (safety rule 4).
   */
  canServeWrites(volume: string): boolean;
  /** The current primary of `volume`, if any (read from the cluster). */
  leader(volume: string): Promise<LeaderRecord | undefined>;
  /** Delivers the current primary now and after every change (undefined: none). */
  watchLeader(volume: string, listener: (leader: LeaderRecord | undefined) => void): Promise<Subscription>;
}

/** ALUA: cluster state, written by the primary, read identically everywhere. */
export interface AluaStore {
  /**
   * Publishes the ALUA state of every port group for `volume`, in one transaction guarded by the
   * caller's leadership (`epoch` must be this node's current epoch and its election key must
   * still exist). Rejects with TANDEM_ERR_CLUSTER_NOT_LEADER otherwise.
   */
  publishAlua(
    volume: string,
    epoch: number,
    groups: readonly { targetPortGroupId: number; state: AluaState }[],
  ): Promise<AluaSnapshot>;
  readAlua(volume: string): Promise<AluaSnapshot | undefined>;
  /** Delivers every volume's snapshot now, then every change. */
  watchAlua(listener: VolumeListener<AluaSnapshot>): Promise<Subscription>;
}

/** Replicated volumes (safety rule 2). */
export interface ReplicaSetStore {
  /**
   * The cluster's era: a random id created once under the key prefix. Epochs (etcd revisions)
   * are comparable only within one era: a replaced etcd starts its revisions again.
   */
  era(): Promise<string>;
  /**
   * Creates the replica set of a new replicated volume with this node as its only in-sync member
   * and `dataset` as its lineage, only if none exists. Resolves whether this call created it.
   */
  createReplicaSet(volume: string, dataset: string): Promise<boolean>;
  readReplicaSet(volume: string): Promise<ReplicaSet>;
  /** Delivers every volume's replica set now, then every change. */
  watchReplicaSets(listener: VolumeListener<ReplicaSet>): Promise<Subscription>;
  /**
   * Adds or removes `node` from the in-sync set, in one transaction guarded by the caller's
   * leadership at `epoch`. Rejects with TANDEM_ERR_CLUSTER_NOT_LEADER when that term is over.
   */
  setInSync(volume: string, epoch: number, node: string, inSync: boolean): Promise<void>;
  /**
   * Removes this node from the in-sync set without leadership: a replica that finds its own
   * store untrustworthy (replaced disk, another dataset) steps out, so it can never promote.
   */
  leaveInSync(volume: string): Promise<void>;
  /**
   * Removes this node from the in-sync set without leadership, only while `other` is a member,
   * in one transaction. Resolves whether it was removed.
   */
  leaveInSyncWhile(volume: string, other: string): Promise<boolean>;
  /** Deletes a volume's replica set and dataset keys (the volume was deleted). */
  deleteReplicaSet(volume: string): Promise<void>;
  /** Publishes (replaces) this node's claim for `volume`; see DataClaim. */
  publishDataClaim(volume: string, claim: DataClaim): Promise<void>;
  /** Every node's published claim for `volume`, by node name. */
  readDataClaims(volume: string): Promise<ReadonlyMap<string, DataClaim>>;
}

/** Persistent reservations (safety rule 7), as cluster state. */
export interface ReservationStateStore {
  /** PR and SPC-2 reservation state of `volume` (opaque JSON owned by src/scsi). */
  readReservations(volume: string): Promise<Versioned<JsonValue>>;
  /** Writes `value` only if the state is still at `expectedRevision` (0: never written). */
  compareAndSetReservations(
    volume: string,
    expectedRevision: number,
    value: JsonValue,
  ): Promise<CasResult<JsonValue>>;
  /** Delivers every volume's state now, then every change. */
  watchReservations(listener: VolumeListener<JsonValue>): Promise<Subscription>;
  /** Records (on this node's leased key) that it has applied `volume`'s state at `revision`. */
  acknowledgeReservations(volume: string, revision: number): Promise<void>;
  /**
   * Resolves when every live member in `nodes` has acknowledged `revision` or more, or has left
   * (its session lease expired, so it has fenced itself), or at `timeoutMs` with the stragglers.
   */
  awaitReservationsApplied(
    volume: string,
    revision: number,
    nodes: readonly string[],
    timeoutMs: number,
  ): Promise<{ applied: string[]; missing: string[] }>;
}

/**
 * Mode parameters an initiator set with MODE SELECT (issue 14, finding 6), as cluster state:
 * opaque JSON owned by src/scsi, one value per volume, last writer wins (MODE SELECT is
 * idempotent and every node applies the values in revision order).
 */
export interface ModeParameterStateStore {
  readModeParameters(volume: string): Promise<Versioned<JsonValue>>;
  /** Writes the volume's value; resolves with its revision once durable. */
  putModeParameters(volume: string, value: JsonValue): Promise<number>;
  /** Delivers every volume's value now, then every change. */
  watchModeParameters(listener: VolumeListener<JsonValue>): Promise<Subscription>;
}

/** The desired configuration. */
export interface ConfigStore {
  readConfig(): Promise<{ revision: number; entries: ConfigEntry[] }>;
  /** Writes one object; with `expectedRevision` only if unchanged since (else CONFLICT error). */
  putConfig(kind: ConfigKind, name: string, value: JsonValue, expectedRevision?: number): Promise<number>;
  /** Deletes one object; resolves false if it did not exist. */
  deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean>;
  watchConfig(listener: (event: ConfigEvent) => void): Promise<Subscription>;
  /**
   * Makes the whole configuration exactly `entries` (others deleted) in one transaction; with
   * `expectedRevision`, only if no entry was written after it (else CONFLICT error).
   */
  replaceConfig(
    entries: readonly { kind: ConfigKind; name: string; value: JsonValue }[],
    expectedRevision?: number,
  ): Promise<number>;
}

export interface Coordinator
  extends CoordinatorSession,
    Membership,
    IdentityStore,
    Election,
    AluaStore,
    ReplicaSetStore,
    ReservationStateStore,
    ModeParameterStateStore,
    ConfigStore {}
