import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { loadProtoDefinition, loadProtoRoot, packageOf } from '../util/proto.js';

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

/**
 * The Replication service, with one change to what proto-loader generates: the Mirror stream's
 * messages are encoded straight from the objects Tandem builds (protobufjs `encode`), without
 * proto-loader's `fromObject` copy of every op first — they already have the wire types (numbers,
 * Buffers). That copy was the largest single cost of sending a batch. Decoding is unchanged.
 */
export function replicationPackage(): ReplicationPackage {
  if (loaded) return loaded;
  const def = loadProtoDefinition(REPLICATION_PROTO);
  const root = loadProtoRoot(REPLICATION_PROTO);
  const encoder = (name: string) => {
    const type = root.lookupType(`tandem.replication.v1.${name}`);
    return (message: object): Buffer => type.encode(message as protobuf.Message).finish() as Buffer;
  };
  const service = def['tandem.replication.v1.Replication'] as unknown as grpc.ServiceDefinition;
  const mirror = service.Mirror!;
  def['tandem.replication.v1.Replication'] = {
    ...service,
    Mirror: {
      ...mirror,
      requestSerialize: encoder('PrimaryMessage'),
      responseSerialize: encoder('ReplicaMessage'),
    },
  } as unknown as (typeof def)[string];
  loaded = packageOf<ReplicationPackage>(
    grpc.loadPackageDefinition(def),
    REPLICATION_PROTO,
    'tandem.replication.v1',
  );
  return loaded;
}
