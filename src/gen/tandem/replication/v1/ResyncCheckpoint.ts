// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { Long } from '@grpc/proto-loader';

export interface ResyncCheckpoint {
  /**
   * the primary that started the full resync
   */
  'primaryNode'?: (string);
  /**
   * its epoch then
   */
  'epoch'?: (number | string | Long);
  /**
   * the dataset being copied
   */
  'datasetId'?: (string);
}

export interface ResyncCheckpoint__Output {
  /**
   * the primary that started the full resync
   */
  'primaryNode': (string);
  /**
   * its epoch then
   */
  'epoch': (number);
  /**
   * the dataset being copied
   */
  'datasetId': (string);
}
