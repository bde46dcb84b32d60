// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _tandem_replication_v1_Ack, Ack__Output as _tandem_replication_v1_Ack__Output } from './tandem/replication/v1/Ack.js';
import type { AckBatch as _tandem_replication_v1_AckBatch, AckBatch__Output as _tandem_replication_v1_AckBatch__Output } from './tandem/replication/v1/AckBatch.js';
import type { Hello as _tandem_replication_v1_Hello, Hello__Output as _tandem_replication_v1_Hello__Output } from './tandem/replication/v1/Hello.js';
import type { HelloReply as _tandem_replication_v1_HelloReply, HelloReply__Output as _tandem_replication_v1_HelloReply__Output } from './tandem/replication/v1/HelloReply.js';
import type { Op as _tandem_replication_v1_Op, Op__Output as _tandem_replication_v1_Op__Output } from './tandem/replication/v1/Op.js';
import type { OpBatch as _tandem_replication_v1_OpBatch, OpBatch__Output as _tandem_replication_v1_OpBatch__Output } from './tandem/replication/v1/OpBatch.js';
import type { PrimaryMessage as _tandem_replication_v1_PrimaryMessage, PrimaryMessage__Output as _tandem_replication_v1_PrimaryMessage__Output } from './tandem/replication/v1/PrimaryMessage.js';
import type { ReplicaMessage as _tandem_replication_v1_ReplicaMessage, ReplicaMessage__Output as _tandem_replication_v1_ReplicaMessage__Output } from './tandem/replication/v1/ReplicaMessage.js';
import type { ReplicationClient as _tandem_replication_v1_ReplicationClient, ReplicationDefinition as _tandem_replication_v1_ReplicationDefinition } from './tandem/replication/v1/Replication.js';
import type { ResyncCheckpoint as _tandem_replication_v1_ResyncCheckpoint, ResyncCheckpoint__Output as _tandem_replication_v1_ResyncCheckpoint__Output } from './tandem/replication/v1/ResyncCheckpoint.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tandem: {
    replication: {
      v1: {
        Ack: MessageTypeDefinition<_tandem_replication_v1_Ack, _tandem_replication_v1_Ack__Output>
        AckBatch: MessageTypeDefinition<_tandem_replication_v1_AckBatch, _tandem_replication_v1_AckBatch__Output>
        Hello: MessageTypeDefinition<_tandem_replication_v1_Hello, _tandem_replication_v1_Hello__Output>
        HelloReply: MessageTypeDefinition<_tandem_replication_v1_HelloReply, _tandem_replication_v1_HelloReply__Output>
        Op: MessageTypeDefinition<_tandem_replication_v1_Op, _tandem_replication_v1_Op__Output>
        OpBatch: MessageTypeDefinition<_tandem_replication_v1_OpBatch, _tandem_replication_v1_OpBatch__Output>
        OpKind: EnumTypeDefinition
        PrimaryMessage: MessageTypeDefinition<_tandem_replication_v1_PrimaryMessage, _tandem_replication_v1_PrimaryMessage__Output>
        ReplicaMessage: MessageTypeDefinition<_tandem_replication_v1_ReplicaMessage, _tandem_replication_v1_ReplicaMessage__Output>
        Replication: SubtypeConstructor<typeof grpc.Client, _tandem_replication_v1_ReplicationClient> & { service: _tandem_replication_v1_ReplicationDefinition }
        ResyncCheckpoint: MessageTypeDefinition<_tandem_replication_v1_ResyncCheckpoint, _tandem_replication_v1_ResyncCheckpoint__Output>
      }
    }
  }
}

