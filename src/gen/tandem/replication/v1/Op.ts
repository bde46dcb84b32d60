// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { OpKind as _tandem_replication_v1_OpKind, OpKind__Output as _tandem_replication_v1_OpKind__Output } from '../../../tandem/replication/v1/OpKind.js';
import type { Long } from '@grpc/proto-loader';

export interface Op {
  'seq'?: (number | string | Long);
  'kind'?: (_tandem_replication_v1_OpKind);
  'offset'?: (number | string | Long);
  'length'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
  'fua'?: (boolean);
  'full'?: (boolean);
  'datasetId'?: (string);
  /**
   * RESYNC_BEGIN: continue the full resync of the replica's checkpoint
   */
  'resume'?: (boolean);
}

export interface Op__Output {
  'seq': (number);
  'kind': (_tandem_replication_v1_OpKind__Output);
  'offset': (number);
  'length': (number);
  'data': (Buffer);
  'fua': (boolean);
  'full': (boolean);
  'datasetId': (string);
  /**
   * RESYNC_BEGIN: continue the full resync of the replica's checkpoint
   */
  'resume': (boolean);
}
