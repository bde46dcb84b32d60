// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { PeerState as _tandem_admin_v1_PeerState, PeerState__Output as _tandem_admin_v1_PeerState__Output } from '../../../tandem/admin/v1/PeerState.js';
import type { Long } from '@grpc/proto-loader';

export interface Replication {
  'inSync'?: (string)[];
  'peers'?: (_tandem_admin_v1_PeerState)[];
  'resyncDoneBytes'?: (number | string | Long);
  /**
   * 0: no resync running
   */
  'resyncTotalBytes'?: (number | string | Long);
}

export interface Replication__Output {
  'inSync': (string)[];
  'peers': (_tandem_admin_v1_PeerState__Output)[];
  'resyncDoneBytes': (number);
  /**
   * 0: no resync running
   */
  'resyncTotalBytes': (number);
}
