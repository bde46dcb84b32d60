// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { Replication as _tandem_admin_v1_Replication, Replication__Output as _tandem_admin_v1_Replication__Output } from '../../../tandem/admin/v1/Replication.js';
import type { VolumeRecovery as _tandem_admin_v1_VolumeRecovery, VolumeRecovery__Output as _tandem_admin_v1_VolumeRecovery__Output } from '../../../tandem/admin/v1/VolumeRecovery.js';
import type { Long } from '@grpc/proto-loader';

export interface NodeVolume {
  'id'?: (string);
  /**
   * primary, replica, …
   */
  'role'?: (string);
  /**
   * this node's port group: active-optimized, standby, …
   */
  'aluaState'?: (string);
  'epoch'?: (number | string | Long);
  /**
   * bytes
   */
  'size'?: (number | string | Long);
  'replication'?: (_tandem_admin_v1_Replication | null);
  /**
   * unset: not recovering
   */
  'recovery'?: (_tandem_admin_v1_VolumeRecovery | null);
}

export interface NodeVolume__Output {
  'id': (string);
  /**
   * primary, replica, …
   */
  'role': (string);
  /**
   * this node's port group: active-optimized, standby, …
   */
  'aluaState': (string);
  'epoch': (number);
  /**
   * bytes
   */
  'size': (number);
  'replication': (_tandem_admin_v1_Replication__Output | null);
  /**
   * unset: not recovering
   */
  'recovery': (_tandem_admin_v1_VolumeRecovery__Output | null);
}
