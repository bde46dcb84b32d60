// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One replica of a replicated volume, as the cluster sees it now.
 */
export interface ReplicaState {
  'node'?: (string);
  /**
   * primary; in-sync (in etcd's in-sync set); resyncing (progress below); out-of-sync (live, not
   * in sync, not resyncing yet); down (its node is not live)
   */
  'state'?: (string);
  'resyncDoneBytes'?: (number | string | Long);
  /**
   * 0: no resync running
   */
  'resyncTotalBytes'?: (number | string | Long);
}

/**
 * One replica of a replicated volume, as the cluster sees it now.
 */
export interface ReplicaState__Output {
  'node': (string);
  /**
   * primary; in-sync (in etcd's in-sync set); resyncing (progress below); out-of-sync (live, not
   * in sync, not resyncing yet); down (its node is not live)
   */
  'state': (string);
  'resyncDoneBytes': (number);
  /**
   * 0: no resync running
   */
  'resyncTotalBytes': (number);
}
