/**
 * The error catalogue. Every error Tandem raises on purpose carries a stable code
 * `TANDEM_ERR_<AREA>_<WHAT>`; docs/errors.md lists them. A peer's protocol violation is a
 * `ProtocolError` (it closes that one connection); a broken internal invariant is an assert.
 * Each code says whether it is retryable (docs/errors.md has the same column; a unit test keeps
 * the two in agreement). A TandemError's own `retryable` is still set by whoever raises it.
 */
export const ErrorCodes = {
  TANDEM_ERR_ISCSI_PROTOCOL: {
    retryable: false,
    meaning: 'the initiator broke RFC 7143; the connection is closed',
  },
  TANDEM_ERR_ISCSI_DIGEST: {
    retryable: false,
    meaning: 'a header digest did not match; the connection is closed',
  },
  TANDEM_ERR_ISCSI_PDU_TOO_LARGE: {
    retryable: false,
    meaning: 'a data segment exceeded the negotiated MaxRecvDataSegmentLength',
  },
  TANDEM_ERR_ISCSI_LOGIN: { retryable: false, meaning: 'the login could not be completed' },
  TANDEM_ERR_CONFIG_INVALID: { retryable: false, meaning: 'the configuration file is invalid' },
  TANDEM_ERR_BACKSTORE_OPEN: { retryable: false, meaning: 'a backing store could not be opened or created' },
  TANDEM_ERR_BACKSTORE_IO: { retryable: false, meaning: 'a backing store read or write failed' },
  TANDEM_ERR_ASSERT: { retryable: false, meaning: 'an internal invariant was broken (a bug)' },
  TANDEM_ERR_CLUSTER_UNAVAILABLE: {
    retryable: true,
    meaning: 'etcd did not answer before the deadline; retryable',
  },
  TANDEM_ERR_CLUSTER_NOT_LEADER: {
    retryable: false,
    meaning: 'a write guarded by leadership found this node is not (or no longer) the primary',
  },
  TANDEM_ERR_CLUSTER_CONFLICT: {
    retryable: false,
    meaning: 'a compare-and-set on cluster state lost to a concurrent change',
  },
  TANDEM_ERR_CLUSTER_IDS_EXHAUSTED: {
    retryable: false,
    meaning: 'no cluster-unique id is left in the 16-bit range (1..65535)',
  },
  TANDEM_ERR_CLUSTER_CORRUPT: {
    retryable: false,
    meaning: 'a value read from etcd is not in the shape Tandem writes',
  },
  TANDEM_ERR_CLUSTER_CLOSED: {
    retryable: false,
    meaning: 'the coordinator was used after close(), or before start()',
  },
  TANDEM_ERR_CLUSTER_INVALID_ARGUMENT: {
    retryable: false,
    meaning: 'a cluster key segment or option is invalid',
  },
  TANDEM_ERR_CLUSTER_RESERVATIONS_NOT_APPLIED: {
    retryable: true,
    meaning: 'a reservation change was not acknowledged by every live node in time; retryable',
  },
  TANDEM_ERR_FORWARD_UNAVAILABLE: {
    retryable: true,
    meaning: "the volume's primary could not be reached to forward a command; retryable",
  },
  TANDEM_ERR_FORWARD_OUTCOME_UNKNOWN: {
    retryable: false,
    meaning:
      'a forwarded command reached the primary and no trustworthy answer came: it may have run there; the connection is closed',
  },
  TANDEM_ERR_REPLICATION_FENCED: {
    retryable: true,
    meaning:
      'a write could not be replicated and this node may no longer acknowledge it (it lost the primary role or could not update the in-sync set); retryable on another path',
  },
  TANDEM_ERR_REPLICATION_PROTOCOL: {
    retryable: false,
    meaning: 'a replication peer broke the replication protocol; the stream is closed',
  },
  TANDEM_ERR_REPLICATION_STALE_EPOCH: {
    retryable: false,
    meaning:
      'a replication message carried an epoch older than the highest this replica has seen (a deposed primary); refused',
  },
  TANDEM_ERR_REPLICATION_TOO_FEW_COPIES: {
    retryable: true,
    meaning:
      "a write was refused: fewer replicas are in sync than the volume's minInSync; writes resume once enough are in sync",
  },
  TANDEM_ERR_REPLICATION_UNAVAILABLE: {
    retryable: true,
    meaning: 'a replication peer could not be reached or did not answer in time; retryable',
  },
  TANDEM_ERR_ADMIN_WRONG_MODE: {
    retryable: false,
    meaning: 'the admin operation needs cluster mode (or the other kind of volume)',
  },
  TANDEM_ERR_ADMIN_NOT_FOUND: {
    retryable: false,
    meaning: 'the admin operation names a target, volume, LUN or node that does not exist',
  },
  TANDEM_ERR_ADMIN_EXISTS: {
    retryable: false,
    meaning: 'the admin operation would create something that exists already',
  },
  TANDEM_ERR_CONFIG_UNSUPPORTED: {
    retryable: false,
    meaning: 'the configuration asks for something this version does not support yet',
  },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** The catalogue's retryable column: the operation may succeed if tried again (maybe on another path). */
export function isRetryableCode(code: ErrorCode): boolean {
  return ErrorCodes[code].retryable;
}

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
