// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { Op as _tandem_replication_v1_Op, Op__Output as _tandem_replication_v1_Op__Output } from '../../../tandem/replication/v1/Op.js';
import type { Long } from '@grpc/proto-loader';

export interface OpBatch {
  /**
   * every op carries the primary's epoch (safety rule 3)
   */
  'epoch'?: (number | string | Long);
  'ops'?: (_tandem_replication_v1_Op)[];
}

export interface OpBatch__Output {
  /**
   * every op carries the primary's epoch (safety rule 3)
   */
  'epoch': (number);
  'ops': (_tandem_replication_v1_Op__Output)[];
}
