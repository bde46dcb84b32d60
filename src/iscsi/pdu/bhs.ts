/**
 * The Basic Header Segment (RFC 7143 11.2.1): 48 bytes common to every PDU. Field access is
 * by offset; per-opcode builders live in target-pdus.ts.
 */
export const BHS_LENGTH = 48;

export const InitiatorOpcode = {
  NOP_OUT: 0x00,
  SCSI_COMMAND: 0x01,
  TASK_MANAGEMENT_REQUEST: 0x02,
  LOGIN_REQUEST: 0x03,
  TEXT_REQUEST: 0x04,
  SCSI_DATA_OUT: 0x05,
  LOGOUT_REQUEST: 0x06,
  SNACK_REQUEST: 0x10,
} as const;

export const TargetOpcode = {
  NOP_IN: 0x20,
  SCSI_RESPONSE: 0x21,
  TASK_MANAGEMENT_RESPONSE: 0x22,
  LOGIN_RESPONSE: 0x23,
  TEXT_RESPONSE: 0x24,
  SCSI_DATA_IN: 0x25,
  LOGOUT_RESPONSE: 0x26,
  R2T: 0x31,
  ASYNC_MESSAGE: 0x32,
  REJECT: 0x3f,
} as const;

/** RFC 7143 11.17.1 reject reasons. */
export const RejectReason = {
  DATA_DIGEST_ERROR: 0x02,
  SNACK_REJECT: 0x03,
  PROTOCOL_ERROR: 0x04,
  COMMAND_NOT_SUPPORTED: 0x05,
  IMMEDIATE_COMMAND_REJECT: 0x06,
  TASK_IN_PROGRESS: 0x07,
  INVALID_DATA_ACK: 0x08,
  INVALID_PDU_FIELD: 0x09,
  LONG_OPERATION_REJECT: 0x0a,
  WAITING_FOR_LOGOUT: 0x0c,
} as const;

export const RESERVED_TAG = 0xffffffff;

/**
 * Bits of BHS byte 1 (RFC 7143 11.2.1.1 and each PDU's section). Bit 7 is F (final) on most
 * PDUs and must be 1 on the target's single-PDU responses (11.4, 11.6, 11.8, 11.9, 11.15, 11.17,
 * 11.19); on Login it is T (transit, 11.12.2).
 */
export const BhsFlag = {
  FINAL: 0x80,
  TRANSIT: 0x80,
  /** C: the text continues in the next PDU (Login 11.12.2, Text 11.10.2). */
  CONTINUE: 0x40,
  /** SCSI Command R and W: data-in / data-out expected (11.3.1). */
  READ: 0x40,
  WRITE: 0x20,
  /** SCSI Response and Data-In o / u: residual overflow / underflow (11.4.5.1). */
  OVERFLOW: 0x04,
  UNDERFLOW: 0x02,
  /** Data-In S: the PDU carries the status (11.7.4). */
  STATUS: 0x01,
} as const;

/** SCSI Command ATTR, the task attribute (RFC 7143 11.3.1). */
export const TASK_ATTRIBUTE_MASK = 0x07;
/** The 7-bit field of byte 1: TMF function (11.5.1), logout reason code (11.14.1). */
export const FUNCTION_MASK = 0x7f;

/** A received PDU: its header (BHS + AHS) and data segment (without padding or digest). */
export interface Pdu {
  readonly bhs: Buffer;
  readonly ahs: Buffer;
  readonly data: Buffer;
  /**
   * `data` spanned socket reads and was gathered into a buffer lent by `ioBuffers`: the
   * transport gives it back (a task's DataOut, or releasePduData once the PDU was handled),
   * which clears this flag. Absent: a view of what the socket read.
   */
  pooled?: boolean;
}

export const opcodeOf = (bhs: Buffer): number => bhs[0]! & 0x3f;
export const isImmediate = (bhs: Buffer): boolean => (bhs[0]! & 0x40) !== 0;
export const finalBit = (bhs: Buffer): boolean => (bhs[1]! & BhsFlag.FINAL) !== 0;
export const totalAhsLength = (bhs: Buffer): number => bhs[4]! * 4;
export const dataSegmentLength = (bhs: Buffer): number => (bhs[5]! << 16) | (bhs[6]! << 8) | bhs[7]!;
export const itt = (bhs: Buffer): number => bhs.readUInt32BE(16);
export const field32 = (bhs: Buffer, off: number): number => bhs.readUInt32BE(off);

export function setDataSegmentLength(bhs: Buffer, len: number): void {
  bhs[5] = (len >> 16) & 0xff;
  bhs[6] = (len >> 8) & 0xff;
  bhs[7] = len & 0xff;
}

export const pad4 = (n: number): number => (4 - (n & 3)) & 3;

/**
 * Decodes the 8-byte LUN field (SAM-5 4.6): peripheral (00b) and flat (01b) addressing. Any
 * other form names a LUN we cannot have; it decodes to -1 so the engine answers "not supported".
 */
export function decodeLun(b: Buffer, off = 8): number {
  const method = b[off]! >> 6;
  const rest = b.readUInt32BE(off + 2) | b.readUInt16BE(off + 6);
  if (rest !== 0) return -1;
  if (method === 0 && b[off] === 0) return b[off + 1]!;
  if (method === 1) return ((b[off]! & 0x3f) << 8) | b[off + 1]!;
  return -1;
}

export function encodeLun(lun: number, b: Buffer, off = 8): void {
  if (lun < 256) {
    b[off] = 0;
    b[off + 1] = lun;
  } else {
    b.writeUInt16BE(0x4000 | (lun & 0x3fff), off);
  }
}
