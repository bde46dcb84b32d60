// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { Hello as _tandem_replication_v1_Hello, Hello__Output as _tandem_replication_v1_Hello__Output } from '../../../tandem/replication/v1/Hello.js';
import type { OpBatch as _tandem_replication_v1_OpBatch, OpBatch__Output as _tandem_replication_v1_OpBatch__Output } from '../../../tandem/replication/v1/OpBatch.js';

export interface PrimaryMessage {
  'hello'?: (_tandem_replication_v1_Hello | null);
  'ops'?: (_tandem_replication_v1_OpBatch | null);
  'kind'?: "hello"|"ops";
}

export interface PrimaryMessage__Output {
  'hello'?: (_tandem_replication_v1_Hello__Output | null);
  'ops'?: (_tandem_replication_v1_OpBatch__Output | null);
  'kind'?: "hello"|"ops";
}
