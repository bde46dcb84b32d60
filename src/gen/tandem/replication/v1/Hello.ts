// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { Long } from '@grpc/proto-loader';

export interface Hello {
  'volume'?: (string);
  /**
   * the primary's leadership epoch (safety rule 3)
   */
  'epoch'?: (number | string | Long);
  'primaryNode'?: (string);
  'datasetId'?: (string);
  /**
   * bytes per bit of the primary's dirty-region bitmap
   */
  'regionSize'?: (number | string | Long);
  /**
   * volume size in bytes: must equal the replica's
   */
  'size'?: (number | string | Long);
  /**
   * The etcd cluster's era (a random id created once under the key prefix): epochs are only
   * comparable within one era, and a replica refuses a primary of another etcd cluster.
   */
  'era'?: (string);
  /**
   * The size the primary's LU reports (committed by a resize); `size` above is the size the
   * replication covers (bitmap, resync, verify), larger while a resize is prepared.
   */
  'committedSize'?: (number | string | Long);
}

export interface Hello__Output {
  'volume': (string);
  /**
   * the primary's leadership epoch (safety rule 3)
   */
  'epoch': (number);
  'primaryNode': (string);
  'datasetId': (string);
  /**
   * bytes per bit of the primary's dirty-region bitmap
   */
  'regionSize': (number);
  /**
   * volume size in bytes: must equal the replica's
   */
  'size': (number);
  /**
   * The etcd cluster's era (a random id created once under the key prefix): epochs are only
   * comparable within one era, and a replica refuses a primary of another etcd cluster.
   */
  'era': (string);
  /**
   * The size the primary's LU reports (committed by a resize); `size` above is the size the
   * replication covers (bitmap, resync, verify), larger while a resize is prepared.
   */
  'committedSize': (number);
}
