// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/replication/v1/replication.proto

export const OpKind = {
  OP_KIND_UNSPECIFIED: 0,
  /**
   * offset, data, fua
   */
  OP_KIND_WRITE: 1,
  /**
   * offset, length: reads back as zeroes afterwards
   */
  OP_KIND_DISCARD: 2,
  /**
   * make every applied write durable (then clear clean_regions)
   */
  OP_KIND_FLUSH: 3,
  /**
   * full: the replica's data is no longer trustworthy until IN_SYNC
   */
  OP_KIND_RESYNC_BEGIN: 4,
  /**
   * offset, data: one region copied by resync
   */
  OP_KIND_RESYNC_DATA: 5,
  /**
   * offset, length: a region unmapped on the primary
   */
  OP_KIND_RESYNC_ZERO: 6,
  /**
   * dataset_id: the replica is in sync; it clears its bitmap but for kept regions
   */
  OP_KIND_IN_SYNC: 7,
  /**
   * offset, length: answer with the CRC32C of the range (verify)
   */
  OP_KIND_CHECKSUM: 8,
  /**
   * length: grow the store and the bitmap to this size, durably
   */
  OP_KIND_RESIZE_PREPARE: 9,
  /**
   * length: the LU reports this size from now on (CAPACITY DATA HAS CHANGED)
   */
  OP_KIND_RESIZE_COMMIT: 10,
} as const;

export type OpKind =
  | 'OP_KIND_UNSPECIFIED'
  | 0
  /**
   * offset, data, fua
   */
  | 'OP_KIND_WRITE'
  | 1
  /**
   * offset, length: reads back as zeroes afterwards
   */
  | 'OP_KIND_DISCARD'
  | 2
  /**
   * make every applied write durable (then clear clean_regions)
   */
  | 'OP_KIND_FLUSH'
  | 3
  /**
   * full: the replica's data is no longer trustworthy until IN_SYNC
   */
  | 'OP_KIND_RESYNC_BEGIN'
  | 4
  /**
   * offset, data: one region copied by resync
   */
  | 'OP_KIND_RESYNC_DATA'
  | 5
  /**
   * offset, length: a region unmapped on the primary
   */
  | 'OP_KIND_RESYNC_ZERO'
  | 6
  /**
   * dataset_id: the replica is in sync; it clears its bitmap but for kept regions
   */
  | 'OP_KIND_IN_SYNC'
  | 7
  /**
   * offset, length: answer with the CRC32C of the range (verify)
   */
  | 'OP_KIND_CHECKSUM'
  | 8
  /**
   * length: grow the store and the bitmap to this size, durably
   */
  | 'OP_KIND_RESIZE_PREPARE'
  | 9
  /**
   * length: the LU reports this size from now on (CAPACITY DATA HAS CHANGED)
   */
  | 'OP_KIND_RESIZE_COMMIT'
  | 10

export type OpKind__Output = typeof OpKind[keyof typeof OpKind]
