// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface PutConfigRequest {
  'kind'?: (string);
  'name'?: (string);
  'valueJson'?: (string);
  /**
   * Write only if the entry's revision is still this one (0: only if it does not exist).
   */
  'expectedRevision'?: (number | string | Long);
  '_expectedRevision'?: "expectedRevision";
}

export interface PutConfigRequest__Output {
  'kind': (string);
  'name': (string);
  'valueJson': (string);
  /**
   * Write only if the entry's revision is still this one (0: only if it does not exist).
   */
  'expectedRevision'?: (number);
  '_expectedRevision'?: "expectedRevision";
}
