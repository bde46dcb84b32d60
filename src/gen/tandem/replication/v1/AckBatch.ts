// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { Ack as _tandem_replication_v1_Ack, Ack__Output as _tandem_replication_v1_Ack__Output } from '../../../tandem/replication/v1/Ack.js';

export interface AckBatch {
  'acks'?: (_tandem_replication_v1_Ack)[];
}

export interface AckBatch__Output {
  'acks': (_tandem_replication_v1_Ack__Output)[];
}
