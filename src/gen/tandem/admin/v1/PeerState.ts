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
   * The current (or last) resync of this peer, as the primary reports it.
   */
  'resyncDoneBytes'?: (number | string | Long);
  'resyncTotalBytes'?: (number | string | Long);
  /**
   * bytes/s over the last few seconds
   */
  'resyncRateBps'?: (number | string | Long);
  /**
   * 0: unknown or none running
   */
  'resyncEtaSeconds'?: (number | string | Long);
  /**
   * continued an interrupted full resync from its checkpoint
   */
  'resyncResumed'?: (boolean);
}

export interface PeerState__Output {
  'node': (string);
  /**
   * in-sync, resyncing, out-of-sync, unreachable, …
   */
  'state': (string);
  /**
   * The current (or last) resync of this peer, as the primary reports it.
   */
  'resyncDoneBytes': (number);
  'resyncTotalBytes': (number);
  /**
   * bytes/s over the last few seconds
   */
  'resyncRateBps': (number);
  /**
   * 0: unknown or none running
   */
  'resyncEtaSeconds': (number);
  /**
   * continued an interrupted full resync from its checkpoint
   */
  'resyncResumed': (boolean);
}
