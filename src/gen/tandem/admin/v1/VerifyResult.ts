// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { DifferingRegion as _tandem_admin_v1_DifferingRegion, DifferingRegion__Output as _tandem_admin_v1_DifferingRegion__Output } from '../../../tandem/admin/v1/DifferingRegion.js';
import type { Long } from '@grpc/proto-loader';

export interface VerifyResult {
  'regions'?: (number | string | Long);
  'regionSize'?: (number | string | Long);
  'differing'?: (_tandem_admin_v1_DifferingRegion)[];
}

export interface VerifyResult__Output {
  'regions': (number);
  'regionSize': (number);
  'differing': (_tandem_admin_v1_DifferingRegion__Output)[];
}
