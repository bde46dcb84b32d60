import { DeviceError, type DeviceErrorKind } from '../backstore/device-error.js';
import { TandemError } from '../util/errors.js';
import type { SenseReasonName } from './sense-reason.js';

interface DeviceFailure {
  readonly sense: SenseReasonName;
  readonly log: 'warn' | 'error';
  readonly msg: string;
  /** Logged at most this often, with the count of those not logged (a full disk fails every write). */
  readonly everyMs?: number;
}

/**
 * The one table from a device error's kind to the sense the initiator gets, and how loudly it is
 * logged. A fenced write is not acknowledged and never will be here (safety rules 1, 2, 4):
 * NOT READY, ASYMMETRIC ACCESS STATE TRANSITION (02h/04h/0Ah), which initiators retry on the
 * new primary's path; the others are MEDIUM ERROR (SPC-4 4.5.6).
 */
export const DEVICE_ERROR_SENSE: Readonly<Record<DeviceErrorKind, DeviceFailure>> = {
  read: { sense: 'UNRECOVERED_READ_ERROR', log: 'error', msg: 'backing store I/O failed' },
  write: { sense: 'WRITE_ERROR', log: 'error', msg: 'backing store I/O failed' },
  flush: { sense: 'WRITE_ERROR', log: 'error', msg: 'backing store I/O failed' },
  fenced: {
    sense: 'LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION',
    log: 'warn',
    msg: 'write not acknowledged: fenced',
  },
  // The operator asked for at least minInSync copies: the LU is write protected by software until
  // enough replicas are in sync (SBC-3 "Write protection": software write protection; SPC-4
  // DATA PROTECT). Not NOT READY: reads still work, and Linux fails a DATA PROTECT write as a
  // target error (BLK_STS_TARGET) without failing the path, where an unknown NOT READY would
  // fail every path in turn and multipath would queue the write forever.
  'too-few-copies': {
    sense: 'SOFTWARE_WRITE_PROTECTED',
    log: 'warn',
    msg: 'write refused: fewer replicas in sync than the volume needs (minInSync)',
  },
  // SBC-4 4.7.3.6: a thin-provisioned LU that cannot allocate terminates the command with DATA
  // PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT. Initiators know it: Linux returns ENOSPC
  // (BLK_STS_NOSPC) without failing the path, ESXi pauses the VM until space is freed; a MEDIUM
  // ERROR would make a file system give up on the disk instead.
  'no-space': {
    sense: 'SPACE_ALLOCATION_FAILED_WRITE_PROTECT',
    log: 'warn',
    msg: 'write failed: the file system holding the backing store is full',
    everyMs: 10_000,
  },
};

/**
 * The kind of a failure that came out of a BlockDevice, or undefined for one that did not (an
 * engine bug: INTERNAL TARGET FAILURE). The replicated device's own state files (dirty bitmap,
 * replication metadata) raise untyped backing-store failures, only while changing data: writes;
 * a FENCED replication error is fenced however it was built.
 */
export function deviceErrorKind(err: unknown): DeviceErrorKind | undefined {
  if (err instanceof DeviceError) return err.kind;
  if (!(err instanceof TandemError)) return undefined;
  if (err.code === 'TANDEM_ERR_REPLICATION_FENCED') return 'fenced';
  return err.code === 'TANDEM_ERR_BACKSTORE_IO' ? 'write' : undefined;
}
