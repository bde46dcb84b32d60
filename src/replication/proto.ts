import type * as grpc from '@grpc/grpc-js';
import type { Ack__Output } from '../gen/tandem/replication/v1/Ack.js';
import type { Hello__Output } from '../gen/tandem/replication/v1/Hello.js';
import type { HelloReply__Output } from '../gen/tandem/replication/v1/HelloReply.js';
import type { Op__Output } from '../gen/tandem/replication/v1/Op.js';
import type { OpBatch__Output } from '../gen/tandem/replication/v1/OpBatch.js';
import { OpKind as OP_KIND } from '../gen/tandem/replication/v1/OpKind.js';
import type { PrimaryMessage__Output } from '../gen/tandem/replication/v1/PrimaryMessage.js';
import type { ReplicaMessage__Output } from '../gen/tandem/replication/v1/ReplicaMessage.js';
import { loadService } from '../util/proto.js';

/**
 * proto/tandem/replication/v1/replication.proto: its message types are generated (src/gen/,
 * `npm run proto`); these are the names the replication code uses for them.
 */

export const REPLICATION_PROTO = 'tandem/replication/v1/replication.proto';

type ShortOpKinds = {
  readonly [K in keyof typeof OP_KIND as K extends `OP_KIND_${infer N}`
    ? N extends 'UNSPECIFIED'
      ? never
      : N
    : never]: (typeof OP_KIND)[K];
};

/** The proto's OpKind without its `OP_KIND_` prefix and without UNSPECIFIED: `OpKind.WRITE`. */
export const OpKind = Object.fromEntries(
  Object.entries(OP_KIND)
    .filter(([name]) => name !== 'OP_KIND_UNSPECIFIED')
    .map(([name, code]) => [name.slice('OP_KIND_'.length), code]),
) as ShortOpKinds;
export type OpKindCode = (typeof OpKind)[keyof typeof OpKind];

export type HelloMessage = Hello__Output;
export type HelloReplyMessage = HelloReply__Output;
export type OpMessage = Op__Output;
export type OpBatchMessage = OpBatch__Output;
export type AckMessage = Ack__Output;
export type PrimaryMessage = PrimaryMessage__Output;
export type ReplicaMessage = ReplicaMessage__Output;

/** The Mirror stream carries messages of the generated `__Output` shapes both ways. */
export interface ReplicationServiceClient extends grpc.Client {
  Mirror(options?: grpc.CallOptions): grpc.ClientDuplexStream<PrimaryMessage, ReplicaMessage>;
}

interface ReplicationPackage {
  Replication: grpc.ServiceClientConstructor;
}

let loaded: ReplicationPackage | undefined;

export function replicationPackage(): ReplicationPackage {
  loaded ??= { Replication: loadService(REPLICATION_PROTO, 'tandem.replication.v1.Replication') };
  return loaded;
}
