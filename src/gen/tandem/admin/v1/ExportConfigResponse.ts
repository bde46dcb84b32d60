// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface ExportConfigResponse {
  'yaml'?: (string);
  'revision'?: (number | string | Long);
}

export interface ExportConfigResponse__Output {
  'yaml': (string);
  'revision': (number);
}
