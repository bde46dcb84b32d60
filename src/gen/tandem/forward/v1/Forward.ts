// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/forward/v1/forward.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ExecuteResponse as _tandem_forward_v1_ExecuteResponse, ExecuteResponse__Output as _tandem_forward_v1_ExecuteResponse__Output } from '../../../tandem/forward/v1/ExecuteResponse.js';
import type { ForwarderMessage as _tandem_forward_v1_ForwarderMessage, ForwarderMessage__Output as _tandem_forward_v1_ForwarderMessage__Output } from '../../../tandem/forward/v1/ForwarderMessage.js';
import type { ResetRequest as _tandem_forward_v1_ResetRequest, ResetRequest__Output as _tandem_forward_v1_ResetRequest__Output } from '../../../tandem/forward/v1/ResetRequest.js';
import type { ResetResponse as _tandem_forward_v1_ResetResponse, ResetResponse__Output as _tandem_forward_v1_ResetResponse__Output } from '../../../tandem/forward/v1/ResetResponse.js';

export interface ForwardClient extends grpc.Client {
  /**
   * One long-lived stream per forwarding node and primary carries every forwarded command
   * (a unary call per command costs an HTTP/2 stream each: several times the latency). The
   * primary answers each ExecuteRequest with one ExecuteResponse of the same id, in any order.
   * An AbortRequest aborts a command still executing (a TMF or nexus loss on the forwarding
   * node); its ExecuteResponse still comes, once the command can have no further effect. When
   * the stream ends, every command still executing from it is aborted.
   */
  Commands(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tandem_forward_v1_ForwarderMessage, _tandem_forward_v1_ExecuteResponse__Output>;
  Commands(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tandem_forward_v1_ForwarderMessage, _tandem_forward_v1_ExecuteResponse__Output>;
  /**
   * One long-lived stream per forwarding node and primary carries every forwarded command
   * (a unary call per command costs an HTTP/2 stream each: several times the latency). The
   * primary answers each ExecuteRequest with one ExecuteResponse of the same id, in any order.
   * An AbortRequest aborts a command still executing (a TMF or nexus loss on the forwarding
   * node); its ExecuteResponse still comes, once the command can have no further effect. When
   * the stream ends, every command still executing from it is aborted.
   */
  commands(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tandem_forward_v1_ForwarderMessage, _tandem_forward_v1_ExecuteResponse__Output>;
  commands(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tandem_forward_v1_ForwarderMessage, _tandem_forward_v1_ExecuteResponse__Output>;
  
  /**
   * A LOGICAL UNIT RESET (or target reset) on another node: abort this node's tasks of the
   * volume's LU and establish the unit attention for every I_T nexus logged in here
   * (SAM-5 6.3.3: every nexus of the LU learns of it, whichever node it uses).
   */
  Reset(argument: _tandem_forward_v1_ResetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_forward_v1_ResetResponse__Output>): grpc.ClientUnaryCall;
  Reset(argument: _tandem_forward_v1_ResetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_forward_v1_ResetResponse__Output>): grpc.ClientUnaryCall;
  Reset(argument: _tandem_forward_v1_ResetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_forward_v1_ResetResponse__Output>): grpc.ClientUnaryCall;
  Reset(argument: _tandem_forward_v1_ResetRequest, callback: grpc.requestCallback<_tandem_forward_v1_ResetResponse__Output>): grpc.ClientUnaryCall;
  /**
   * A LOGICAL UNIT RESET (or target reset) on another node: abort this node's tasks of the
   * volume's LU and establish the unit attention for every I_T nexus logged in here
   * (SAM-5 6.3.3: every nexus of the LU learns of it, whichever node it uses).
   */
  reset(argument: _tandem_forward_v1_ResetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_forward_v1_ResetResponse__Output>): grpc.ClientUnaryCall;
  reset(argument: _tandem_forward_v1_ResetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_forward_v1_ResetResponse__Output>): grpc.ClientUnaryCall;
  reset(argument: _tandem_forward_v1_ResetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_forward_v1_ResetResponse__Output>): grpc.ClientUnaryCall;
  reset(argument: _tandem_forward_v1_ResetRequest, callback: grpc.requestCallback<_tandem_forward_v1_ResetResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ForwardHandlers extends grpc.UntypedServiceImplementation {
  /**
   * One long-lived stream per forwarding node and primary carries every forwarded command
   * (a unary call per command costs an HTTP/2 stream each: several times the latency). The
   * primary answers each ExecuteRequest with one ExecuteResponse of the same id, in any order.
   * An AbortRequest aborts a command still executing (a TMF or nexus loss on the forwarding
   * node); its ExecuteResponse still comes, once the command can have no further effect. When
   * the stream ends, every command still executing from it is aborted.
   */
  Commands: grpc.handleBidiStreamingCall<_tandem_forward_v1_ForwarderMessage__Output, _tandem_forward_v1_ExecuteResponse>;
  
  /**
   * A LOGICAL UNIT RESET (or target reset) on another node: abort this node's tasks of the
   * volume's LU and establish the unit attention for every I_T nexus logged in here
   * (SAM-5 6.3.3: every nexus of the LU learns of it, whichever node it uses).
   */
  Reset: grpc.handleUnaryCall<_tandem_forward_v1_ResetRequest__Output, _tandem_forward_v1_ResetResponse>;
  
}

export interface ForwardDefinition extends grpc.ServiceDefinition {
  Commands: MethodDefinition<_tandem_forward_v1_ForwarderMessage, _tandem_forward_v1_ExecuteResponse, _tandem_forward_v1_ForwarderMessage__Output, _tandem_forward_v1_ExecuteResponse__Output>
  Reset: MethodDefinition<_tandem_forward_v1_ResetRequest, _tandem_forward_v1_ResetResponse, _tandem_forward_v1_ResetRequest__Output, _tandem_forward_v1_ResetResponse__Output>
}
