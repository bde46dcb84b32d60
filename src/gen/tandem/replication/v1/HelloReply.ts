// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { ResyncCheckpoint as _tandem_replication_v1_ResyncCheckpoint, ResyncCheckpoint__Output as _tandem_replication_v1_ResyncCheckpoint__Output } from '../../../tandem/replication/v1/ResyncCheckpoint.js';
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
   * The replica's own dirty-region bitmap (bit i: region i, LSB first): regions it wrote as a
   * primary, and regions of ops it applied as a replica that no FLUSH's clean_regions named yet.
   */
  'dirtyBitmap'?: (Buffer | Uint8Array | string);
  /**
   * Set while a full resync of this replica is unfinished: its dirty bitmap then names the
   * regions it has not yet received and flushed, so the primary that started it can resume.
   */
  'checkpoint'?: (_tandem_replication_v1_ResyncCheckpoint | null);
  /**
   * The replica holds every write it acknowledged: its process has held the copy since it was
   * known complete (opened with valid data and no dirty region, or declared in sync by IN_SYNC)
   * and has not restarted since, so nothing it applied was lost with a page cache (power cut).
   * Its dirty regions can then only hold writes another copy lacks, never lack an acknowledged one.
   */
  'intact'?: (boolean);
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
   * The replica's own dirty-region bitmap (bit i: region i, LSB first): regions it wrote as a
   * primary, and regions of ops it applied as a replica that no FLUSH's clean_regions named yet.
   */
  'dirtyBitmap': (Buffer);
  /**
   * Set while a full resync of this replica is unfinished: its dirty bitmap then names the
   * regions it has not yet received and flushed, so the primary that started it can resume.
   */
  'checkpoint': (_tandem_replication_v1_ResyncCheckpoint__Output | null);
  /**
   * The replica holds every write it acknowledged: its process has held the copy since it was
   * known complete (opened with valid data and no dirty region, or declared in sync by IN_SYNC)
   * and has not restarted since, so nothing it applied was lost with a page cache (power cut).
   * Its dirty regions can then only hold writes another copy lacks, never lack an acknowledged one.
   */
  'intact': (boolean);
}
