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

/**
 * Why a replica refused a stream, where the code alone does not say (a PROTOCOL error the
 * primary answers differently: 'is-primary' means the peer is no replica, so it stops dialing).
 */
export type ReplicationRefusal = 'is-primary';

export interface ReplicationError extends TandemError {
  readonly code: ReplicationErrorCode;
  /** Same as `code` (kept for callers written before the codes were in the catalogue). */
  readonly replicationCode: ReplicationErrorCode;
  readonly refusal?: ReplicationRefusal;
}

/** The one place replication errors are made. */
export function replicationError(
  code: ReplicationErrorCode,
  message: string,
  opts: { cause?: unknown; retryable?: boolean; refusal?: ReplicationRefusal } = {},
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
  ) as TandemError & { replicationCode: ReplicationErrorCode; refusal?: ReplicationRefusal };
  err.replicationCode = code;
  if (opts.refusal) err.refusal = opts.refusal;
  return err as ReplicationError;
}

export function isReplicationError(err: unknown, code: ReplicationErrorCode): boolean {
  return err instanceof TandemError && err.code === code;
}

/** The refusal a replication error carries (replicationError's `refusal`), if any. */
export function refusalOf(err: unknown): ReplicationRefusal | undefined {
  return err instanceof TandemError ? (err as Partial<ReplicationError>).refusal : undefined;
}
