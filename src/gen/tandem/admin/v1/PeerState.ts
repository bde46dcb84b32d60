// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface PeerState {
  'node'?: (string);
  /**
   * in-sync, resyncing, out-of-sync, unreachable, …
   */
  'state'?: (string);
  /**
   * this peer's current (or last) resync
   */
  'resyncDoneBytes'?: (number | string | Long);
  'resyncTotalBytes'?: (number | string | Long);
}

export interface PeerState__Output {
  'node': (string);
  /**
   * in-sync, resyncing, out-of-sync, unreachable, …
   */
  'state': (string);
  /**
   * this peer's current (or last) resync
   */
  'resyncDoneBytes': (number);
  'resyncTotalBytes': (number);
}
