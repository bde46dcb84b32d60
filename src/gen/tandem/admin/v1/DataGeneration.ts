// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

/**
 * What a copy holds: the era and epoch of the last term it was primary of, and the in-sync
 * removals it made in that term (docs/replication.md, When etcd forgets).
 */
export interface DataGeneration {
  'era'?: (string);
  'epoch'?: (number | string | Long);
  'seq'?: (number | string | Long);
}

/**
 * What a copy holds: the era and epoch of the last term it was primary of, and the in-sync
 * removals it made in that term (docs/replication.md, When etcd forgets).
 */
export interface DataGeneration__Output {
  'era': (string);
  'epoch': (number);
  'seq': (number);
}
