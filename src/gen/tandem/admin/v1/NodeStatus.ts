// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { NodeVolume as _tandem_admin_v1_NodeVolume, NodeVolume__Output as _tandem_admin_v1_NodeVolume__Output } from '../../../tandem/admin/v1/NodeVolume.js';
import type { Session as _tandem_admin_v1_Session, Session__Output as _tandem_admin_v1_Session__Output } from '../../../tandem/admin/v1/Session.js';
import type { Long } from '@grpc/proto-loader';

export interface NodeStatus {
  'name'?: (string);
  /**
   * embedded | cluster
   */
  'mode'?: (string);
  'portals'?: (string)[];
  'admin'?: (string);
  'grpc'?: (string);
  'upSinceMs'?: (number | string | Long);
  'volumes'?: (_tandem_admin_v1_NodeVolume)[];
  'sessions'?: (_tandem_admin_v1_Session)[];
}

export interface NodeStatus__Output {
  'name': (string);
  /**
   * embedded | cluster
   */
  'mode': (string);
  'portals': (string)[];
  'admin': (string);
  'grpc': (string);
  'upSinceMs': (number);
  'volumes': (_tandem_admin_v1_NodeVolume__Output)[];
  'sessions': (_tandem_admin_v1_Session__Output)[];
}
