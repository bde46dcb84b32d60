import { type ErrorCode, TandemError } from '../util/errors.js';

/**
 * Why a BlockDevice call failed; the SCSI engine maps each kind to a sense reason by one table
 * (src/scsi/device-sense.ts), never by reading the message.
 * - read: the data could not be read.
 * - write: a write, discard or cache flush did not reach the medium.
 * - closed: the device was used after close() (its LU is going away on this node).
 * - fenced: a replicated device refuses the change: this node may no longer acknowledge it
 *   (DESIGN.md safety rules 1, 2, 4).
 * - out-of-range: the range lies past the end of the device.
 */
export type DeviceErrorKind = 'read' | 'write' | 'closed' | 'fenced' | 'out-of-range';

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
