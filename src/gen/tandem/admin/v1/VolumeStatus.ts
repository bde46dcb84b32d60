// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { PortGroupState as _tandem_admin_v1_PortGroupState, PortGroupState__Output as _tandem_admin_v1_PortGroupState__Output } from '../../../tandem/admin/v1/PortGroupState.js';
import type { ReplicaState as _tandem_admin_v1_ReplicaState, ReplicaState__Output as _tandem_admin_v1_ReplicaState__Output } from '../../../tandem/admin/v1/ReplicaState.js';
import type { VolumeRecovery as _tandem_admin_v1_VolumeRecovery, VolumeRecovery__Output as _tandem_admin_v1_VolumeRecovery__Output } from '../../../tandem/admin/v1/VolumeRecovery.js';
import type { PeerState as _tandem_admin_v1_PeerState, PeerState__Output as _tandem_admin_v1_PeerState__Output } from '../../../tandem/admin/v1/PeerState.js';
import type { Long } from '@grpc/proto-loader';

export interface VolumeStatus {
  'id'?: (string);
  /**
   * replicated | shared
   */
  'kind'?: (string);
  /**
   * bytes
   */
  'size'?: (number | string | Long);
  'replicas'?: (string)[];
  'inSync'?: (string)[];
  /**
   * empty: none
   */
  'primary'?: (string);
  'epoch'?: (number | string | Long);
  'portGroups'?: (_tandem_admin_v1_PortGroupState)[];
  'resyncDoneBytes'?: (number | string | Long);
  'resyncTotalBytes'?: (number | string | Long);
  /**
   * "<target iqn>/<lun>" mapping this volume
   */
  'luns'?: (string)[];
  /**
   * replicated: one per replica, in `replicas` order
   */
  'replicaStates'?: (_tandem_admin_v1_ReplicaState)[];
  /**
   * Replicated, after etcd lost the replica set: each node's recovery (empty: none recovers).
   */
  'recovery'?: (_tandem_admin_v1_VolumeRecovery)[];
  /**
   * The primary's resyncing peers, with progress, rate and ETA (from its NodeStatus).
   */
  'resyncPeers'?: (_tandem_admin_v1_PeerState)[];
}

export interface VolumeStatus__Output {
  'id': (string);
  /**
   * replicated | shared
   */
  'kind': (string);
  /**
   * bytes
   */
  'size': (number);
  'replicas': (string)[];
  'inSync': (string)[];
  /**
   * empty: none
   */
  'primary': (string);
  'epoch': (number);
  'portGroups': (_tandem_admin_v1_PortGroupState__Output)[];
  'resyncDoneBytes': (number);
  'resyncTotalBytes': (number);
  /**
   * "<target iqn>/<lun>" mapping this volume
   */
  'luns': (string)[];
  /**
   * replicated: one per replica, in `replicas` order
   */
  'replicaStates': (_tandem_admin_v1_ReplicaState__Output)[];
  /**
   * Replicated, after etcd lost the replica set: each node's recovery (empty: none recovers).
   */
  'recovery': (_tandem_admin_v1_VolumeRecovery__Output)[];
  /**
   * The primary's resyncing peers, with progress, rate and ETA (from its NodeStatus).
   */
  'resyncPeers': (_tandem_admin_v1_PeerState__Output)[];
}
