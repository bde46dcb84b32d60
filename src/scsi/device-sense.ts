import type { DeviceErrorKind } from '../backstore/device-error.js';
import type { SenseReasonName } from './sense-reason.js';

/**
 * The one table from a device error's kind to the sense the initiator gets, and how loudly it is
 * logged. A fenced or closed device means this node no longer serves the LU: NOT READY,
 * ASYMMETRIC ACCESS STATE TRANSITION (02h/04h/0Ah), which initiators retry, on another path.
 */
export const DEVICE_ERROR_SENSE: Readonly<
  Record<
    DeviceErrorKind,
    { readonly sense: SenseReasonName; readonly log: 'warn' | 'error'; readonly msg: string }
  >
> = {
  read: { sense: 'UNRECOVERED_READ_ERROR', log: 'error', msg: 'backing store I/O failed' },
  write: { sense: 'WRITE_ERROR', log: 'error', msg: 'backing store I/O failed' },
  closed: {
    sense: 'LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION',
    log: 'warn',
    msg: 'backing store closed',
  },
  fenced: {
    sense: 'LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION',
    log: 'warn',
    msg: 'write not acknowledged: fenced',
  },
  'out-of-range': {
    sense: 'LOGICAL_BLOCK_ADDRESS_OUT_OF_RANGE',
    log: 'error',
    msg: 'backing store I/O failed',
  },
};
