// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/forward/v1/forward.proto


export interface ResetRequest {
  'originNode'?: (string);
  'volume'?: (string);
  /**
   * sense reason name, e.g. BUS_DEVICE_RESET_FUNCTION_OCCURRED
   */
  'unitAttention'?: (string);
}

export interface ResetRequest__Output {
  'originNode': (string);
  'volume': (string);
  /**
   * sense reason name, e.g. BUS_DEVICE_RESET_FUNCTION_OCCURRED
   */
  'unitAttention': (string);
}
