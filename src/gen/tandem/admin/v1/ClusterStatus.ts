// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { NodeInfo as _tandem_admin_v1_NodeInfo, NodeInfo__Output as _tandem_admin_v1_NodeInfo__Output } from '../../../tandem/admin/v1/NodeInfo.js';
import type { VolumeStatus as _tandem_admin_v1_VolumeStatus, VolumeStatus__Output as _tandem_admin_v1_VolumeStatus__Output } from '../../../tandem/admin/v1/VolumeStatus.js';
import type { Session as _tandem_admin_v1_Session, Session__Output as _tandem_admin_v1_Session__Output } from '../../../tandem/admin/v1/Session.js';

export interface ClusterStatus {
  'mode'?: (string);
  /**
   * the node that answered
   */
  'node'?: (string);
  'nodes'?: (_tandem_admin_v1_NodeInfo)[];
  'volumes'?: (_tandem_admin_v1_VolumeStatus)[];
  'sessions'?: (_tandem_admin_v1_Session)[];
  /**
   * e.g. a node whose NodeStatus did not answer
   */
  'warnings'?: (string)[];
}

export interface ClusterStatus__Output {
  'mode': (string);
  /**
   * the node that answered
   */
  'node': (string);
  'nodes': (_tandem_admin_v1_NodeInfo__Output)[];
  'volumes': (_tandem_admin_v1_VolumeStatus__Output)[];
  'sessions': (_tandem_admin_v1_Session__Output)[];
  /**
   * e.g. a node whose NodeStatus did not answer
   */
  'warnings': (string)[];
}
