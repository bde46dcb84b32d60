// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AbortRequest as _tandem_forward_v1_AbortRequest, AbortRequest__Output as _tandem_forward_v1_AbortRequest__Output } from './tandem/forward/v1/AbortRequest.js';
import type { ExecuteRequest as _tandem_forward_v1_ExecuteRequest, ExecuteRequest__Output as _tandem_forward_v1_ExecuteRequest__Output } from './tandem/forward/v1/ExecuteRequest.js';
import type { ExecuteResponse as _tandem_forward_v1_ExecuteResponse, ExecuteResponse__Output as _tandem_forward_v1_ExecuteResponse__Output } from './tandem/forward/v1/ExecuteResponse.js';
import type { ForwardClient as _tandem_forward_v1_ForwardClient, ForwardDefinition as _tandem_forward_v1_ForwardDefinition } from './tandem/forward/v1/Forward.js';
import type { ForwarderMessage as _tandem_forward_v1_ForwarderMessage, ForwarderMessage__Output as _tandem_forward_v1_ForwarderMessage__Output } from './tandem/forward/v1/ForwarderMessage.js';
import type { Nexus as _tandem_forward_v1_Nexus, Nexus__Output as _tandem_forward_v1_Nexus__Output } from './tandem/forward/v1/Nexus.js';
import type { ResetRequest as _tandem_forward_v1_ResetRequest, ResetRequest__Output as _tandem_forward_v1_ResetRequest__Output } from './tandem/forward/v1/ResetRequest.js';
import type { ResetResponse as _tandem_forward_v1_ResetResponse, ResetResponse__Output as _tandem_forward_v1_ResetResponse__Output } from './tandem/forward/v1/ResetResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tandem: {
    forward: {
      v1: {
        AbortRequest: MessageTypeDefinition<_tandem_forward_v1_AbortRequest, _tandem_forward_v1_AbortRequest__Output>
        ExecuteRequest: MessageTypeDefinition<_tandem_forward_v1_ExecuteRequest, _tandem_forward_v1_ExecuteRequest__Output>
        ExecuteResponse: MessageTypeDefinition<_tandem_forward_v1_ExecuteResponse, _tandem_forward_v1_ExecuteResponse__Output>
        Forward: SubtypeConstructor<typeof grpc.Client, _tandem_forward_v1_ForwardClient> & { service: _tandem_forward_v1_ForwardDefinition }
        ForwarderMessage: MessageTypeDefinition<_tandem_forward_v1_ForwarderMessage, _tandem_forward_v1_ForwarderMessage__Output>
        Nexus: MessageTypeDefinition<_tandem_forward_v1_Nexus, _tandem_forward_v1_Nexus__Output>
        ResetRequest: MessageTypeDefinition<_tandem_forward_v1_ResetRequest, _tandem_forward_v1_ResetRequest__Output>
        ResetResponse: MessageTypeDefinition<_tandem_forward_v1_ResetResponse, _tandem_forward_v1_ResetResponse__Output>
      }
    }
  }
}

