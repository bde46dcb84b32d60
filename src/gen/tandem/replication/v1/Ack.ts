// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { Long } from '@grpc/proto-loader';

export interface Ack {
  'seq'?: (number | string | Long);
  'ok'?: (boolean);
  /**
   * why the op failed (ok = false)
   */
  'error'?: (string);
  /**
   * OP_KIND_CHECKSUM
   */
  'checksum'?: (number);
}

export interface Ack__Output {
  'seq': (number);
  'ok': (boolean);
  /**
   * why the op failed (ok = false)
   */
  'error': (string);
  /**
   * OP_KIND_CHECKSUM
   */
  'checksum': (number);
}
