// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/forward/v1/forward.proto


export interface ResetResponse {
  /**
   * the volume has an LU on this node
   */
  'found'?: (boolean);
}

export interface ResetResponse__Output {
  /**
   * the volume has an LU on this node
   */
  'found': (boolean);
}
