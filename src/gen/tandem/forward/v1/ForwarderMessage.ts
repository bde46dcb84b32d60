// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/forward/v1/forward.proto

import type { ExecuteRequest as _tandem_forward_v1_ExecuteRequest, ExecuteRequest__Output as _tandem_forward_v1_ExecuteRequest__Output } from '../../../tandem/forward/v1/ExecuteRequest.js';
import type { AbortRequest as _tandem_forward_v1_AbortRequest, AbortRequest__Output as _tandem_forward_v1_AbortRequest__Output } from '../../../tandem/forward/v1/AbortRequest.js';

export interface ForwarderMessage {
  'execute'?: (_tandem_forward_v1_ExecuteRequest | null);
  'abort'?: (_tandem_forward_v1_AbortRequest | null);
  'kind'?: "execute"|"abort";
}

export interface ForwarderMessage__Output {
  'execute'?: (_tandem_forward_v1_ExecuteRequest__Output | null);
  'abort'?: (_tandem_forward_v1_AbortRequest__Output | null);
  'kind'?: "execute"|"abort";
}
