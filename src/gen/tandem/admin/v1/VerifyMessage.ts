// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { VerifyProgress as _tandem_admin_v1_VerifyProgress, VerifyProgress__Output as _tandem_admin_v1_VerifyProgress__Output } from '../../../tandem/admin/v1/VerifyProgress.js';
import type { VerifyResult as _tandem_admin_v1_VerifyResult, VerifyResult__Output as _tandem_admin_v1_VerifyResult__Output } from '../../../tandem/admin/v1/VerifyResult.js';

/**
 * The server sends a progress message as soon as the call starts, then at least every few
 * seconds, and ends the stream with exactly one result.
 */
export interface VerifyMessage {
  'progress'?: (_tandem_admin_v1_VerifyProgress | null);
  'result'?: (_tandem_admin_v1_VerifyResult | null);
  'kind'?: "progress"|"result";
}

/**
 * The server sends a progress message as soon as the call starts, then at least every few
 * seconds, and ends the stream with exactly one result.
 */
export interface VerifyMessage__Output {
  'progress'?: (_tandem_admin_v1_VerifyProgress__Output | null);
  'result'?: (_tandem_admin_v1_VerifyResult__Output | null);
  'kind'?: "progress"|"result";
}
