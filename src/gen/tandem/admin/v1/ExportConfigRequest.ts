// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto


export interface ExportConfigRequest {
  /**
   * false: CHAP secrets are replaced by a placeholder
   */
  'showSecrets'?: (boolean);
}

export interface ExportConfigRequest__Output {
  /**
   * false: CHAP secrets are replaced by a placeholder
   */
  'showSecrets': (boolean);
}
