/**
 * The error catalogue. Every error Tandem raises on purpose carries a stable code
 * `TANDEM_ERR_<AREA>_<WHAT>`; docs/errors.md lists them. A peer's protocol violation is a
 * `ProtocolError` (it closes that one connection); a broken internal invariant is an assert.
 */
export const ErrorCodes = {
  TANDEM_ERR_ISCSI_PROTOCOL: 'the initiator broke RFC 7143; the connection is closed',
  TANDEM_ERR_ISCSI_DIGEST: 'a header digest did not match; the connection is closed',
  TANDEM_ERR_ISCSI_PDU_TOO_LARGE: 'a data segment exceeded the negotiated MaxRecvDataSegmentLength',
  TANDEM_ERR_ISCSI_LOGIN: 'the login could not be completed',
  TANDEM_ERR_CONFIG_INVALID: 'the configuration file is invalid',
  TANDEM_ERR_BACKSTORE_OPEN: 'a backing store could not be opened or created',
  TANDEM_ERR_BACKSTORE_IO: 'a backing store read or write failed',
  TANDEM_ERR_ASSERT: 'an internal invariant was broken (a bug)',
  TANDEM_ERR_CLUSTER_UNAVAILABLE: 'etcd did not answer before the deadline; retryable',
  TANDEM_ERR_CLUSTER_NOT_LEADER:
    'a write guarded by leadership found this node is not (or no longer) the primary',
  TANDEM_ERR_CLUSTER_CONFLICT: 'a compare-and-set on cluster state lost to a concurrent change',
  TANDEM_ERR_CLUSTER_IDS_EXHAUSTED: 'no cluster-unique id is left in the 16-bit range (1..65535)',
  TANDEM_ERR_CLUSTER_CORRUPT: 'a value read from etcd is not in the shape Tandem writes',
  TANDEM_ERR_CLUSTER_CLOSED: 'the coordinator was used after close(), or before start()',
  TANDEM_ERR_CLUSTER_INVALID_ARGUMENT: 'a cluster key segment or option is invalid',
  TANDEM_ERR_CLUSTER_RESERVATIONS_NOT_APPLIED:
    'a reservation change was not acknowledged by every live node in time; retryable',
  TANDEM_ERR_FORWARD_UNAVAILABLE: "the volume's primary could not be reached to forward a command; retryable",
  TANDEM_ERR_REPLICATION_FENCED:
    'a write could not be replicated and this node may no longer acknowledge it (it lost the primary role or could not update the in-sync set); retryable on another path',
  TANDEM_ERR_REPLICATION_PROTOCOL: 'a replication peer broke the replication protocol; the stream is closed',
  TANDEM_ERR_REPLICATION_STALE_EPOCH:
    'a replication message carried an epoch older than the highest this replica has seen (a deposed primary); refused',
  TANDEM_ERR_REPLICATION_UNAVAILABLE:
    'a replication peer could not be reached or did not answer in time; retryable',
  TANDEM_ERR_ADMIN_WRONG_MODE: 'the admin operation needs cluster mode (or the other kind of volume)',
  TANDEM_ERR_ADMIN_NOT_FOUND: 'the admin operation names a target, volume, LUN or node that does not exist',
  TANDEM_ERR_ADMIN_EXISTS: 'the admin operation would create something that exists already',
  TANDEM_ERR_CONFIG_UNSUPPORTED: 'the configuration asks for something this version does not support yet',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class TandemError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TandemError';
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }
}

/** A peer broke the protocol: the connection that carried it is closed, nothing else. */
export class ProtocolError extends TandemError {
  constructor(message: string, code: ErrorCode = 'TANDEM_ERR_ISCSI_PROTOCOL') {
    super(code, message);
    this.name = 'ProtocolError';
  }
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new TandemError('TANDEM_ERR_ASSERT', `assertion failed: ${message}`);
}
