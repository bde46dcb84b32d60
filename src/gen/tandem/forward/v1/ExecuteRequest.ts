// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/forward/v1/forward.proto

import type { Nexus as _tandem_forward_v1_Nexus, Nexus__Output as _tandem_forward_v1_Nexus__Output } from '../../../tandem/forward/v1/Nexus.js';

export interface ExecuteRequest {
  /**
   * unique per forwarding node while the command lives
   */
  'id'?: (string);
  'originNode'?: (string);
  /**
   * the LU's volume id (the primary checks lun still maps to it)
   */
  'volume'?: (string);
  'lun'?: (number);
  'nexus'?: (_tandem_forward_v1_Nexus | null);
  /**
   * initiator task tag
   */
  'tag'?: (number);
  'cdb'?: (Buffer | Uint8Array | string);
  /**
   * SAM-5 task attribute (0 simple, 1 head of queue, 2 ordered, 4 ACA)
   */
  'taskAttribute'?: (number);
  /**
   * EDTL
   */
  'expectedLength'?: (number);
  'readExpected'?: (boolean);
  'writeExpected'?: (boolean);
  /**
   * the whole data-out the primary's gate asks for
   */
  'dataOut'?: (Buffer | Uint8Array | string);
}

export interface ExecuteRequest__Output {
  /**
   * unique per forwarding node while the command lives
   */
  'id': (string);
  'originNode': (string);
  /**
   * the LU's volume id (the primary checks lun still maps to it)
   */
  'volume': (string);
  'lun': (number);
  'nexus': (_tandem_forward_v1_Nexus__Output | null);
  /**
   * initiator task tag
   */
  'tag': (number);
  'cdb': (Buffer);
  /**
   * SAM-5 task attribute (0 simple, 1 head of queue, 2 ordered, 4 ACA)
   */
  'taskAttribute': (number);
  /**
   * EDTL
   */
  'expectedLength': (number);
  'readExpected': (boolean);
  'writeExpected': (boolean);
  /**
   * the whole data-out the primary's gate asks for
   */
  'dataOut': (Buffer);
}
