// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { DataGeneration as _tandem_admin_v1_DataGeneration, DataGeneration__Output as _tandem_admin_v1_DataGeneration__Output } from '../../../tandem/admin/v1/DataGeneration.js';

/**
 * A replicated volume recovering after etcd lost its replica set (a config import into an empty
 * etcd; an etcd restore and a new era), as one node reports it: the copy with the newest data
 * stays the source; the others wait, or are resynced from it.
 */
export interface VolumeRecovery {
  /**
   * the node whose copy this is about
   */
  'node'?: (string);
  /**
   * waiting-for-replicas: `missing` have not said what their copy holds (start them);
   * waiting-for-newest: `source` holds newer data than this copy and re-creates the replica set;
   * waiting-for-operator: copies of two etcd eras, not comparable: the operator chooses;
   * resync-from-newest: the set was re-created from `source`'s copy; this one is resynced from it;
   * source: the set was re-created from this copy; `missing` are not in sync yet.
   */
  'state'?: (string);
  'source'?: (string);
  'missing'?: (string)[];
  /**
   * this copy's
   */
  'generation'?: (_tandem_admin_v1_DataGeneration | null);
  /**
   * waiting-for-newest: the source's
   */
  'newest'?: (_tandem_admin_v1_DataGeneration | null);
  /**
   * in words, as the node logs it
   */
  'reason'?: (string);
}

/**
 * A replicated volume recovering after etcd lost its replica set (a config import into an empty
 * etcd; an etcd restore and a new era), as one node reports it: the copy with the newest data
 * stays the source; the others wait, or are resynced from it.
 */
export interface VolumeRecovery__Output {
  /**
   * the node whose copy this is about
   */
  'node': (string);
  /**
   * waiting-for-replicas: `missing` have not said what their copy holds (start them);
   * waiting-for-newest: `source` holds newer data than this copy and re-creates the replica set;
   * waiting-for-operator: copies of two etcd eras, not comparable: the operator chooses;
   * resync-from-newest: the set was re-created from `source`'s copy; this one is resynced from it;
   * source: the set was re-created from this copy; `missing` are not in sync yet.
   */
  'state': (string);
  'source': (string);
  'missing': (string)[];
  /**
   * this copy's
   */
  'generation': (_tandem_admin_v1_DataGeneration__Output | null);
  /**
   * waiting-for-newest: the source's
   */
  'newest': (_tandem_admin_v1_DataGeneration__Output | null);
  /**
   * in words, as the node logs it
   */
  'reason': (string);
}
