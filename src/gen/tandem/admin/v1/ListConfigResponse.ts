// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { ConfigEntry as _tandem_admin_v1_ConfigEntry, ConfigEntry__Output as _tandem_admin_v1_ConfigEntry__Output } from '../../../tandem/admin/v1/ConfigEntry.js';
import type { Long } from '@grpc/proto-loader';

export interface ListConfigResponse {
  'revision'?: (number | string | Long);
  'entries'?: (_tandem_admin_v1_ConfigEntry)[];
}

export interface ListConfigResponse__Output {
  'revision': (number);
  'entries': (_tandem_admin_v1_ConfigEntry__Output)[];
}
