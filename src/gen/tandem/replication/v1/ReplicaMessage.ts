// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { HelloReply as _tandem_replication_v1_HelloReply, HelloReply__Output as _tandem_replication_v1_HelloReply__Output } from '../../../tandem/replication/v1/HelloReply.js';
import type { AckBatch as _tandem_replication_v1_AckBatch, AckBatch__Output as _tandem_replication_v1_AckBatch__Output } from '../../../tandem/replication/v1/AckBatch.js';

export interface ReplicaMessage {
  'hello'?: (_tandem_replication_v1_HelloReply | null);
  'acks'?: (_tandem_replication_v1_AckBatch | null);
  'kind'?: "hello"|"acks";
}

export interface ReplicaMessage__Output {
  'hello'?: (_tandem_replication_v1_HelloReply__Output | null);
  'acks'?: (_tandem_replication_v1_AckBatch__Output | null);
  'kind'?: "hello"|"acks";
}
