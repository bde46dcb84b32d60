// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type { Long } from '@grpc/proto-loader';

export interface Session {
  'node'?: (string);
  /**
   * initiator IQN
   */
  'initiator'?: (string);
  /**
   * 12 hex digits
   */
  'isid'?: (string);
  /**
   * target IQN
   */
  'target'?: (string);
  /**
   * HOST:PORT the session logged in through
   */
  'portal'?: (string);
  /**
   * login time, ms since the epoch
   */
  'sinceMs'?: (number | string | Long);
  'connections'?: (number);
}

export interface Session__Output {
  'node': (string);
  /**
   * initiator IQN
   */
  'initiator': (string);
  /**
   * 12 hex digits
   */
  'isid': (string);
  /**
   * target IQN
   */
  'target': (string);
  /**
   * HOST:PORT the session logged in through
   */
  'portal': (string);
  /**
   * login time, ms since the epoch
   */
  'sinceMs': (number);
  'connections': (number);
}
