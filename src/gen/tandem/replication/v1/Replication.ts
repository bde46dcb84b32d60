// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { PrimaryMessage as _tandem_replication_v1_PrimaryMessage, PrimaryMessage__Output as _tandem_replication_v1_PrimaryMessage__Output } from '../../../tandem/replication/v1/PrimaryMessage.js';
import type { ReplicaMessage as _tandem_replication_v1_ReplicaMessage, ReplicaMessage__Output as _tandem_replication_v1_ReplicaMessage__Output } from '../../../tandem/replication/v1/ReplicaMessage.js';

export interface ReplicationClient extends grpc.Client {
  /**
   * The first PrimaryMessage is a Hello, answered by a HelloReply; then Ops and Acks. The
   * replica ends the stream with an error status (FAILED_PRECONDITION, details naming the
   * cause) for a stale epoch, a protocol violation, or when it is itself the primary.
   */
  Mirror(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tandem_replication_v1_PrimaryMessage, _tandem_replication_v1_ReplicaMessage__Output>;
  Mirror(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tandem_replication_v1_PrimaryMessage, _tandem_replication_v1_ReplicaMessage__Output>;
  /**
   * The first PrimaryMessage is a Hello, answered by a HelloReply; then Ops and Acks. The
   * replica ends the stream with an error status (FAILED_PRECONDITION, details naming the
   * cause) for a stale epoch, a protocol violation, or when it is itself the primary.
   */
  mirror(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tandem_replication_v1_PrimaryMessage, _tandem_replication_v1_ReplicaMessage__Output>;
  mirror(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tandem_replication_v1_PrimaryMessage, _tandem_replication_v1_ReplicaMessage__Output>;
  
}

export interface ReplicationHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The first PrimaryMessage is a Hello, answered by a HelloReply; then Ops and Acks. The
   * replica ends the stream with an error status (FAILED_PRECONDITION, details naming the
   * cause) for a stale epoch, a protocol violation, or when it is itself the primary.
   */
  Mirror: grpc.handleBidiStreamingCall<_tandem_replication_v1_PrimaryMessage__Output, _tandem_replication_v1_ReplicaMessage>;
  
}

export interface ReplicationDefinition extends grpc.ServiceDefinition {
  Mirror: MethodDefinition<_tandem_replication_v1_PrimaryMessage, _tandem_replication_v1_ReplicaMessage, _tandem_replication_v1_PrimaryMessage__Output, _tandem_replication_v1_ReplicaMessage__Output>
}
