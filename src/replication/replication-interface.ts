import type * as grpc from '@grpc/grpc-js';
import type { BlockDevice } from '../backstore/block-device.js';
import type { Logger } from '../util/logger.js';

/** The volume's in-sync set in etcd (DESIGN.md safety rule 2); implemented over etcd by the daemon. */
export interface InSyncSet {
  /** Node names known (from etcd) to hold every acknowledged write. */
  members(): ReadonlySet<string>;
  /**
   * etcd txn guarded by this node's leadership at `epoch`. Resolves once committed. Rejects
   * (retryable or not) otherwise: then the caller must NOT acknowledge.
   */
  remove(node: string, epoch: number): Promise<void>;
  add(node: string, epoch: number): Promise<void>;
}

export interface PeerAddress {
  readonly node: string;
  /** HOST:PORT of its gRPC server. */
  readonly address: string;
}

export interface ReplicatedVolumeOptions {
  volume: string;
  node: string;
  logger: Logger;
  /** This node's local store. */
  device: BlockDevice;
  /** Where `<volume>.meta.json` and `<volume>.bitmap` live; created if needed. */
  stateDir: string;
  inSync: InSyncSet;
  /** Live replica nodes of this volume other than this one, with gRPC addresses. */
  peers(): readonly PeerAddress[];
  /** Every configured replica node of this volume other than this one, live or not. */
  replicas(): readonly string[];
  /** Sync, monotonic-clock lease check: true while this node may acknowledge writes (rule 4). */
  canServeWrites(): boolean;
  /**
   * The fewest copies (this one included) that must be in sync for a write or discard to be
   * accepted (the volume's minInSync, read per write: it changes live). Absent: 1.
   */
  minInSync?(): number;
  /** Default 1 MiB, raised (power of 2) so the bitmap has at most 2^20 bits. */
  regionSize?: number;
  /** Default insecure. */
  credentials?: grpc.ChannelCredentials;
  /** Per peer node (mutual TLS checks the peer's name); wins over `credentials`. */
  peerCredentials?: (node: string) => grpc.ChannelCredentials;
  /**
   * The etcd cluster's era (Coordinator.era). When it differs from the era this copy's highest
   * epoch was recorded in, etcd was replaced: the epoch history starts again. Hellos of another
   * era are refused. Absent: eras are not checked.
   */
  era?: string;
  /** Tuning, mostly for tests. */
  timing?: Partial<ReplicationTiming>;
  /**
   * Told, per mirrored write, how long the primary waited for its peers after its own copy was
   * done (seconds; 0 when the peers were faster): the "replication" latency stage.
   */
  onPeerWait?: (seconds: number) => void;
}

export interface ReplicationTiming {
  /** An op not acknowledged by a peer within this is a failure of that peer. */
  ackTimeoutMs: number;
  /** An in-sync peer not mirroring this long after becamePrimary() is removed from the set. */
  connectDeadlineMs: number;
  /** A dirty region is cleared after this long without writes, once every replica is in sync. */
  cleanAfterMs: number;
  /** Delay before reconnecting to a live peer whose stream failed. */
  reconnectMs: number;
  /** Bytes of ops sent to one peer and not yet acknowledged. */
  maxInflightBytes: number;
}

export type Role = 'closed' | 'replica' | 'primary';

export type PeerState =
  | 'connecting'
  | 'resyncing'
  | 'in-sync'
  | 'out-of-sync'
  | 'stale-epoch'
  | 'refused'
  | 'closed';

export interface PeerStatus {
  readonly node: string;
  readonly address: string;
  readonly state: PeerState;
  /** Bytes of resync done / to do in the current (or last) resync. */
  readonly resyncDoneBytes: number;
  readonly resyncTotalBytes: number;
  /** Bytes resync actually sent (regions unmapped on the primary are sent as "zero"). */
  readonly resyncSentBytes: number;
  /** Resync rate over the last few seconds (bytes/s; 0 when none is running). */
  readonly resyncRateBps?: number;
  /** Seconds left at that rate (undefined: no resync running, or no rate yet). */
  readonly resyncEtaSeconds?: number | undefined;
  /** The current (or last) resync continued an interrupted full resync from its checkpoint. */
  readonly resyncResumed?: boolean;
  readonly inflightOps: number;
  /** Milliseconds since the last ack from the peer (undefined: none yet). */
  readonly lastAckMs: number | undefined;
  readonly lastError: string | undefined;
}

/** Counters since open(): the daemon exports them to Prometheus. */
export interface ReplicationMetrics {
  /** Ops sent to peers (writes, discards, flushes; resync and verify excluded). */
  mirroredOps: number;
  /** Data bytes of mirrored writes. */
  mirroredBytes: number;
  /** Acks received from peers (every kind). */
  acks: number;
  /** Peer failures (stream error, timeout, nack). */
  peerFailures: number;
  /** Regions and bytes copied by resync (sent as data or as zero). */
  resyncRegions: number;
  resyncBytes: number;
  /** Ops applied here as a replica. */
  appliedOps: number;
  appliedBytes: number;
  /** Writes whose acknowledgement waited for a peer's removal from the in-sync set. */
  degradedWrites: number;
  /** Writes failed with TANDEM_ERR_REPLICATION_FENCED. */
  fencedWrites: number;
}

/** Every counter at zero (a volume just opened). */
export function zeroReplicationMetrics(): ReplicationMetrics {
  return {
    mirroredOps: 0,
    mirroredBytes: 0,
    acks: 0,
    peerFailures: 0,
    resyncRegions: 0,
    resyncBytes: 0,
    appliedOps: 0,
    appliedBytes: 0,
    degradedWrites: 0,
    fencedWrites: 0,
  };
}

export interface ReplicationStatus {
  readonly volume: string;
  readonly node: string;
  readonly role: Role;
  /** This node's epoch as primary (0 when not primary). */
  readonly epoch: number;
  /** Highest epoch persisted here. */
  readonly highestEpoch: number;
  readonly datasetId: string;
  readonly hasValidData: boolean;
  readonly regionSize: number;
  readonly dirtyRegions: number;
  readonly dirtyBytes: number;
  /** The size the LU reports (committed); a resize in progress has `resizeTarget` above it. */
  readonly size?: number;
  readonly resizeTarget?: number;
  /** The resync rate limit in force (bytes/s; 0: unlimited). */
  readonly resyncLimitBps?: number;
  readonly peers: readonly PeerStatus[];
  readonly metrics: Readonly<ReplicationMetrics>;
}

export interface VerifyResult {
  readonly regions: number;
  readonly regionSize: number;
  readonly differing: readonly { node: string; offset: number; length: number }[];
  /** In-sync peers that were compared (those connected when verify started). */
  readonly nodes: readonly string[];
}
