// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/forward/v1/forward.proto


export interface ExecuteResponse {
  /**
   * SCSI status
   */
  'status'?: (number);
  /**
   * encoded sense data (CHECK CONDITION)
   */
  'sense'?: (Buffer | Uint8Array | string);
  /**
   * data-in
   */
  'data'?: (Buffer | Uint8Array | string);
  'transferLength'?: (number);
  /**
   * the task was aborted on the primary: no response to the initiator
   */
  'aborted'?: (boolean);
  /**
   * data is data-in (possibly empty), not absent
   */
  'hasData'?: (boolean);
  /**
   * the ExecuteRequest's id
   */
  'id'?: (string);
}

export interface ExecuteResponse__Output {
  /**
   * SCSI status
   */
  'status': (number);
  /**
   * encoded sense data (CHECK CONDITION)
   */
  'sense': (Buffer);
  /**
   * data-in
   */
  'data': (Buffer);
  'transferLength': (number);
  /**
   * the task was aborted on the primary: no response to the initiator
   */
  'aborted': (boolean);
  /**
   * data is data-in (possibly empty), not absent
   */
  'hasData': (boolean);
  /**
   * the ExecuteRequest's id
   */
  'id': (string);
}
