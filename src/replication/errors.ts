import { DeviceError } from '../backstore/device-error.js';
import { TandemError } from '../util/errors.js';

/** The codes replication raises (catalogue: src/util/errors.ts, docs/errors.md). */
export type ReplicationErrorCode =
  | 'TANDEM_ERR_REPLICATION_FENCED'
  | 'TANDEM_ERR_REPLICATION_PROTOCOL'
  | 'TANDEM_ERR_REPLICATION_STALE_EPOCH'
  | 'TANDEM_ERR_REPLICATION_TOO_FEW_COPIES'
  | 'TANDEM_ERR_REPLICATION_UNAVAILABLE';

/** Retryable unless said otherwise: FENCED (on another path) and UNAVAILABLE. */
const RETRYABLE: ReadonlySet<ReplicationErrorCode> = new Set([
  'TANDEM_ERR_REPLICATION_FENCED',
  'TANDEM_ERR_REPLICATION_TOO_FEW_COPIES',
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
  const options = { cause: opts.cause, retryable: opts.retryable ?? RETRYABLE.has(code) };
  // FENCED reaches the SCSI engine through the replicated BlockDevice: a typed device error
  // (kind 'fenced'), which the engine maps to a role change, never to a medium error.
  // TOO_FEW_COPIES likewise (kind 'too-few-copies': the LU is write protected for now).
  const kind =
    code === 'TANDEM_ERR_REPLICATION_FENCED'
      ? 'fenced'
      : code === 'TANDEM_ERR_REPLICATION_TOO_FEW_COPIES'
        ? 'too-few-copies'
        : undefined;
  const err = (
    kind ? new DeviceError(kind, message, { ...options, code }) : new TandemError(code, message, options)
  ) as TandemError & { replicationCode: ReplicationErrorCode };
  err.replicationCode = code;
  return err as ReplicationError;
}

export function isReplicationError(err: unknown, code: ReplicationErrorCode): boolean {
  return err instanceof TandemError && err.code === code;
}
