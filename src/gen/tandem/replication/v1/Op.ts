// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

import type { OpKind as _tandem_replication_v1_OpKind, OpKind__Output as _tandem_replication_v1_OpKind__Output } from '../../../tandem/replication/v1/OpKind.js';
import type { Long } from '@grpc/proto-loader';

export interface Op {
  'seq'?: (number | string | Long);
  'kind'?: (_tandem_replication_v1_OpKind);
  'offset'?: (number | string | Long);
  'length'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
  'fua'?: (boolean);
  'full'?: (boolean);
  'datasetId'?: (string);
  /**
   * RESYNC_BEGIN: continue the full resync of the replica's checkpoint
   */
  'resume'?: (boolean);
  /**
   * FLUSH from the primary's region cleaner: regions it clears once every copy has flushed. A
   * replica marks the regions of every op it applies in its own bitmap and clears exactly these
   * after its flush (those not written again since the FLUSH arrived). Absent: clear nothing.
   */
  'cleanRegions'?: (number)[];
  /**
   * RESYNC_DATA, RESYNC_ZERO: the region is dirty on the primary (it may hold writes another
   * copy lacks): the replica keeps it dirty until a FLUSH names it, instead of clearing it with
   * its checkpoint or at IN_SYNC.
   */
  'keepDirty'?: (boolean);
}

export interface Op__Output {
  'seq': (number);
  'kind': (_tandem_replication_v1_OpKind__Output);
  'offset': (number);
  'length': (number);
  'data': (Buffer);
  'fua': (boolean);
  'full': (boolean);
  'datasetId': (string);
  /**
   * RESYNC_BEGIN: continue the full resync of the replica's checkpoint
   */
  'resume': (boolean);
  /**
   * FLUSH from the primary's region cleaner: regions it clears once every copy has flushed. A
   * replica marks the regions of every op it applies in its own bitmap and clears exactly these
   * after its flush (those not written again since the FLUSH arrived). Absent: clear nothing.
   */
  'cleanRegions': (number)[];
  /**
   * RESYNC_DATA, RESYNC_ZERO: the region is dirty on the primary (it may hold writes another
   * copy lacks): the replica keeps it dirty until a FLUSH names it, instead of clearing it with
   * its checkpoint or at IN_SYNC.
   */
  'keepDirty': (boolean);
}
