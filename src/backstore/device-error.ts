import { type ErrorCode, TandemError } from '../util/errors.js';

/**
 * Why a BlockDevice call failed; the SCSI engine maps each kind to a sense reason by one table
 * (src/scsi/device-sense.ts), never by reading the message.
 * - read: the data (or its allocation) could not be read.
 * - write: a write, discard or resize did not reach the medium.
 * - flush: a cache flush (SYNCHRONIZE CACHE, or a FUA write's) did not reach the medium.
 * - fenced: a replicated device refuses the change: this node may no longer acknowledge it
 *   (DESIGN.md safety rules 1, 2, 4).
 * - too-few-copies: a replicated device refuses the change: fewer copies are in sync than the
 *   volume's minInSync (reads go on).
 * - no-space: a write, discard or flush failed because the file system holding the backing store
 *   is full (ENOSPC) or over its quota (EDQUOT): a thin-provisioned LU ran out of space.
 * A call on a closed device fails with the kind of the call, as an I/O failure: what the
 * initiator gets for it is a read or write error today, and stays so.
 */
export type DeviceErrorKind = 'read' | 'write' | 'flush' | 'fenced' | 'too-few-copies' | 'no-space';

/** A BlockDevice failure: a TandemError (TANDEM_ERR_BACKSTORE_IO unless said) with its kind. */
export class DeviceError extends TandemError {
  readonly kind: DeviceErrorKind;

  constructor(
    kind: DeviceErrorKind,
    message: string,
    options: { cause?: unknown; code?: ErrorCode; retryable?: boolean } = {},
  ) {
    super(options.code ?? 'TANDEM_ERR_BACKSTORE_IO', message, {
      cause: options.cause,
      retryable: options.retryable ?? false,
    });
    this.name = 'DeviceError';
    this.kind = kind;
  }
}
