// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { Long } from '@grpc/proto-loader';

export interface HelloReply {
  /**
   * the replica's dataset ("" when none)
   */
  'datasetId'?: (string);
  'hasValidData'?: (boolean);
  /**
   * the highest epoch the replica has persisted (after this Hello)
   */
  'highestEpoch'?: (number | string | Long);
  /**
   * the replica's bitmap granularity
   */
  'regionSize'?: (number | string | Long);
  /**
   * the replica's own dirty-region bitmap (bit i: region i, LSB first)
   */
  'dirtyBitmap'?: (Buffer | Uint8Array | string);
}

export interface HelloReply__Output {
  /**
   * the replica's dataset ("" when none)
   */
  'datasetId': (string);
  'hasValidData': (boolean);
  /**
   * the highest epoch the replica has persisted (after this Hello)
   */
  'highestEpoch': (number);
  /**
   * the replica's bitmap granularity
   */
  'regionSize': (number);
  /**
   * the replica's own dirty-region bitmap (bit i: region i, LSB first)
   */
  'dirtyBitmap': (Buffer);
}
