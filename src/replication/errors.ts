import { TandemError } from '../util/errors.js';

/** The codes replication raises (catalogue: src/util/errors.ts, docs/errors.md). */
export type ReplicationErrorCode =
  | 'TANDEM_ERR_REPLICATION_FENCED'
  | 'TANDEM_ERR_REPLICATION_PROTOCOL'
  | 'TANDEM_ERR_REPLICATION_STALE_EPOCH'
  | 'TANDEM_ERR_REPLICATION_UNAVAILABLE';

/** Retryable unless said otherwise: FENCED (on another path) and UNAVAILABLE. */
const RETRYABLE: ReadonlySet<ReplicationErrorCode> = new Set([
  'TANDEM_ERR_REPLICATION_FENCED',
  'TANDEM_ERR_REPLICATION_UNAVAILABLE',
]);

export interface ReplicationError extends TandemError {
  readonly code: ReplicationErrorCode;
  /** Same as `code` (kept for callers written before the codes were in the catalogue). */
  readonly replicationCode: ReplicationErrorCode;
}

/** The one place replication errors are made. */
export function replicationError(
  code: ReplicationErrorCode,
  message: string,
  opts: { cause?: unknown; retryable?: boolean } = {},
): ReplicationError {
  const err = new TandemError(code, message, {
    cause: opts.cause,
    retryable: opts.retryable ?? RETRYABLE.has(code),
  }) as TandemError & { replicationCode: ReplicationErrorCode };
  err.replicationCode = code;
  return err as ReplicationError;
}

export function isReplicationError(err: unknown, code: ReplicationErrorCode): boolean {
  return err instanceof TandemError && err.code === code;
}
