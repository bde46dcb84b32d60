import type * as grpc from '@grpc/grpc-js';
import { loadProtoPackage } from '../util/proto.js';

/**
 * proto/tandem/replication/v1/replication.proto, loaded at run time with @grpc/proto-loader like
 * every Tandem proto (no generated code). The shapes below mirror the .proto (camelCase, as
 * proto-loader presents them with keepCase: false; uint64 as number, enums as numbers).
 */

export const REPLICATION_PROTO = 'tandem/replication/v1/replication.proto';

export const OpKind = {
  WRITE: 1,
  DISCARD: 2,
  FLUSH: 3,
  RESYNC_BEGIN: 4,
  RESYNC_DATA: 5,
  RESYNC_ZERO: 6,
  IN_SYNC: 7,
  CHECKSUM: 8,
} as const;
export type OpKindCode = (typeof OpKind)[keyof typeof OpKind];

export interface HelloMessage {
  volume: string;
  epoch: number;
  primaryNode: string;
  datasetId: string;
  regionSize: number;
  size: number;
  /** etcd era ('' when unknown). */
  era: string;
}

export interface HelloReplyMessage {
  datasetId: string;
  hasValidData: boolean;
  highestEpoch: number;
  regionSize: number;
  dirtyBitmap: Buffer;
}

export interface OpMessage {
  seq: number;
  kind: number;
  offset: number;
  length: number;
  data: Buffer;
  fua: boolean;
  full: boolean;
  datasetId: string;
}

export interface OpBatchMessage {
  epoch: number;
  ops: OpMessage[];
}

export interface AckMessage {
  seq: number;
  ok: boolean;
  error: string;
  checksum: number;
}

export interface PrimaryMessage {
  hello?: HelloMessage | null;
  ops?: OpBatchMessage | null;
  kind?: 'hello' | 'ops';
}

export interface ReplicaMessage {
  hello?: HelloReplyMessage | null;
  acks?: { acks: AckMessage[] } | null;
  kind?: 'hello' | 'acks';
}

export interface ReplicationServiceClient extends grpc.Client {
  Mirror(options?: grpc.CallOptions): grpc.ClientDuplexStream<PrimaryMessage, ReplicaMessage>;
}

interface ReplicationPackage {
  Replication: grpc.ServiceClientConstructor;
}

let loaded: ReplicationPackage | undefined;

export function replicationPackage(): ReplicationPackage {
  loaded ??= loadProtoPackage<ReplicationPackage>(REPLICATION_PROTO, 'tandem.replication.v1');
  return loaded;
}
