import { SenseKey, SenseResponseCode } from './spec/sense.js';

/**
 * Every reason a command can fail, as one table (LIO's sense_detail_table): handlers return a
 * reason, never sense bytes; buildSense() is the only place that encodes them.
 */
export const SenseReasons = {
  NO_SENSE: { key: SenseKey.NO_SENSE, asc: 0x00, ascq: 0x00 },
  INVALID_COMMAND_OPERATION_CODE: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x20, ascq: 0x00 },
  INVALID_FIELD_IN_CDB: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x24, ascq: 0x00 },
  INVALID_FIELD_IN_PARAMETER_LIST: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x26, ascq: 0x00 },
  PARAMETER_LIST_LENGTH_ERROR: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x1a, ascq: 0x00 },
  PARAMETER_NOT_SUPPORTED: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x26, ascq: 0x01 },
  PARAMETER_VALUE_INVALID: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x26, ascq: 0x02 },
  LOGICAL_BLOCK_ADDRESS_OUT_OF_RANGE: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x21, ascq: 0x00 },
  LOGICAL_UNIT_NOT_SUPPORTED: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x25, ascq: 0x00 },
  SAVING_PARAMETERS_NOT_SUPPORTED: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x39, ascq: 0x00 },
  INVALID_MESSAGE_ERROR: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x49, ascq: 0x00 },
  INVALID_RELEASE_OF_PERSISTENT_RESERVATION: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x26, ascq: 0x04 },
  INSUFFICIENT_REGISTRATION_RESOURCES: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x55, ascq: 0x04 },
  MEDIUM_REMOVAL_PREVENTED: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x53, ascq: 0x02 },
  WRITE_PROTECTED: { key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0x00 },
  SOFTWARE_WRITE_PROTECTED: { key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0x02 },
  SPACE_ALLOCATION_FAILED_WRITE_PROTECT: { key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0x07 },
  MISCOMPARE_DURING_VERIFY_OPERATION: { key: SenseKey.MISCOMPARE, asc: 0x1d, ascq: 0x00 },
  UNRECOVERED_READ_ERROR: { key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0x00 },
  WRITE_ERROR: { key: SenseKey.MEDIUM_ERROR, asc: 0x0c, ascq: 0x00 },
  LOGICAL_UNIT_COMMUNICATION_FAILURE: { key: SenseKey.HARDWARE_ERROR, asc: 0x08, ascq: 0x00 },
  INTERNAL_TARGET_FAILURE: { key: SenseKey.HARDWARE_ERROR, asc: 0x44, ascq: 0x00 },
  LOGICAL_UNIT_NOT_READY_CAUSE_NOT_REPORTABLE: { key: SenseKey.NOT_READY, asc: 0x04, ascq: 0x00 },
  LOGICAL_UNIT_NOT_READY_INITIALIZING_COMMAND_REQUIRED: { key: SenseKey.NOT_READY, asc: 0x04, ascq: 0x02 },
  LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION: {
    key: SenseKey.NOT_READY,
    asc: 0x04,
    ascq: 0x0a,
  },
  LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_STANDBY_STATE: {
    key: SenseKey.NOT_READY,
    asc: 0x04,
    ascq: 0x0b,
  },
  LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_UNAVAILABLE_STATE: {
    key: SenseKey.NOT_READY,
    asc: 0x04,
    ascq: 0x0c,
  },
  MEDIUM_NOT_PRESENT: { key: SenseKey.NOT_READY, asc: 0x3a, ascq: 0x00 },
  POWER_ON_OCCURRED: { key: SenseKey.UNIT_ATTENTION, asc: 0x29, ascq: 0x01 },
  POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED: { key: SenseKey.UNIT_ATTENTION, asc: 0x29, ascq: 0x00 },
  BUS_DEVICE_RESET_FUNCTION_OCCURRED: { key: SenseKey.UNIT_ATTENTION, asc: 0x29, ascq: 0x03 },
  I_T_NEXUS_LOSS_OCCURRED: { key: SenseKey.UNIT_ATTENTION, asc: 0x29, ascq: 0x07 },
  MODE_PARAMETERS_CHANGED: { key: SenseKey.UNIT_ATTENTION, asc: 0x2a, ascq: 0x01 },
  RESERVATIONS_PREEMPTED: { key: SenseKey.UNIT_ATTENTION, asc: 0x2a, ascq: 0x03 },
  RESERVATIONS_RELEASED: { key: SenseKey.UNIT_ATTENTION, asc: 0x2a, ascq: 0x04 },
  REGISTRATIONS_PREEMPTED: { key: SenseKey.UNIT_ATTENTION, asc: 0x2a, ascq: 0x05 },
  ASYMMETRIC_ACCESS_STATE_CHANGED: { key: SenseKey.UNIT_ATTENTION, asc: 0x2a, ascq: 0x06 },
  CAPACITY_DATA_HAS_CHANGED: { key: SenseKey.UNIT_ATTENTION, asc: 0x2a, ascq: 0x09 },
  COMMANDS_CLEARED_BY_ANOTHER_INITIATOR: { key: SenseKey.UNIT_ATTENTION, asc: 0x2f, ascq: 0x00 },
  COMMANDS_CLEARED_BY_POWER_LOSS_NOTIFICATION: { key: SenseKey.UNIT_ATTENTION, asc: 0x2f, ascq: 0x01 },
  REPORTED_LUNS_DATA_HAS_CHANGED: { key: SenseKey.UNIT_ATTENTION, asc: 0x3f, ascq: 0x0e },
  INQUIRY_DATA_HAS_CHANGED: { key: SenseKey.UNIT_ATTENTION, asc: 0x3f, ascq: 0x03 },
  COPY_TARGET_DEVICE_NOT_REACHABLE: { key: SenseKey.COPY_ABORTED, asc: 0x0d, ascq: 0x02 },
  UNREACHABLE_COPY_TARGET: { key: SenseKey.COPY_ABORTED, asc: 0x08, ascq: 0x04 },
  COPY_ABORTED_NO_ADDITIONAL_SENSE_INFORMATION: { key: SenseKey.COPY_ABORTED, asc: 0x00, ascq: 0x00 },
  THIRD_PARTY_DEVICE_FAILURE: { key: SenseKey.COPY_ABORTED, asc: 0x0d, ascq: 0x01 },
  TOO_MANY_TARGET_DESCRIPTORS: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x26, ascq: 0x06 },
  UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x26, ascq: 0x07 },
  TOO_MANY_SEGMENT_DESCRIPTORS: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x26, ascq: 0x08 },
  UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x26, ascq: 0x09 },
  OPERATION_IN_PROGRESS: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x00, ascq: 0x16 },
  INSUFFICIENT_RESOURCES: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x55, ascq: 0x03 },
  COMMAND_SEQUENCE_ERROR: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x2c, ascq: 0x00 },
  DATA_PHASE_ERROR: { key: SenseKey.ABORTED_COMMAND, asc: 0x4b, ascq: 0x00 },
  INITIATOR_DETECTED_ERROR_MESSAGE_RECEIVED: { key: SenseKey.ABORTED_COMMAND, asc: 0x48, ascq: 0x00 },
  INVALID_FIELD_IN_COMMAND_INFORMATION_UNIT: { key: SenseKey.ILLEGAL_REQUEST, asc: 0x0e, ascq: 0x03 },
} as const;

export type SenseReasonName = keyof typeof SenseReasons;

/** Where in the CDB (or parameter list) the offending field is: SPC-4 4.5.2.4.2 field pointer. */
export interface FieldPointer {
  inCdb: boolean;
  byte: number;
  bit?: number;
}

/** A failed command's reason plus the optional details that sense data can carry. */
export interface SenseReason {
  readonly name: SenseReasonName;
  /** The INFORMATION field (e.g. the offset of the first miscompare, SBC-3 5.x). */
  readonly information?: bigint | number;
  readonly field?: FieldPointer;
}

export function reason(name: SenseReasonName, extra?: Omit<SenseReason, 'name'>): SenseReason {
  return extra ? { name, ...extra } : { name };
}

export function isSenseReason(x: unknown): x is SenseReason {
  return typeof x === 'object' && x !== null && 'name' in x && (x as { name: string }).name in SenseReasons;
}

/**
 * Encodes sense data: fixed format (SPC-4 4.5.3) unless `descriptor` (D_SENSE in the control
 * mode page, SPC-4 4.5.2).
 */
export function buildSense(r: SenseReason, descriptor = false): Buffer {
  const { key, asc, ascq } = SenseReasons[r.name];
  const info = r.information === undefined ? undefined : BigInt(r.information);
  const sks = r.field ? senseKeySpecific(r.field) : undefined;
  if (!descriptor) {
    const b = Buffer.alloc(18);
    b[0] = SenseResponseCode.FIXED_CURRENT;
    b[2] = key;
    b[7] = 10; // additional sense length
    if (info !== undefined) {
      // VALID bit: the INFORMATION field holds a meaningful value (4 bytes in fixed format).
      if (info <= 0xffffffffn) {
        b[0] |= 0x80;
        b.writeUInt32BE(Number(info), 3);
      }
    }
    b[12] = asc;
    b[13] = ascq;
    if (sks) sks.copy(b, 15);
    return b;
  }
  const descs: Buffer[] = [];
  if (info !== undefined) {
    const d = Buffer.alloc(12);
    d[0] = 0x00; // information descriptor
    d[1] = 0x0a;
    d[2] = 0x80; // VALID
    d.writeBigUInt64BE(info, 4);
    descs.push(d);
  }
  if (sks) {
    const d = Buffer.alloc(8);
    d[0] = 0x02; // sense key specific descriptor
    d[1] = 0x06;
    sks.copy(d, 4);
    descs.push(d);
  }
  const body = Buffer.concat(descs);
  const b = Buffer.alloc(8 + body.length);
  b[0] = SenseResponseCode.DESCRIPTOR_CURRENT;
  b[1] = key;
  b[2] = asc;
  b[3] = ascq;
  b[7] = body.length;
  body.copy(b, 8);
  return b;
}

function senseKeySpecific(f: FieldPointer): Buffer {
  const b = Buffer.alloc(3);
  b[0] = 0x80 | (f.inCdb ? 0x40 : 0) | (f.bit !== undefined ? 0x08 | (f.bit & 7) : 0);
  b.writeUInt16BE(f.byte & 0xffff, 1);
  return b;
}
