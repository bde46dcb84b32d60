// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/forward/v1/forward.proto


export interface AbortRequest {
  'id'?: (string);
  'originNode'?: (string);
}

export interface AbortRequest__Output {
  'id': (string);
  'originNode': (string);
}
