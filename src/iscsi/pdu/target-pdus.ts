import { BHS_LENGTH, BhsFlag, RESERVED_TAG, TargetOpcode } from './bhs.js';

/**
 * Builders for every PDU the target sends (RFC 7143 11). Each returns a fresh 48-byte BHS;
 * the connection fills StatSN/ExpCmdSN/MaxCmdSN where the PDU carries them and appends data.
 */

/** Sequence fields stamped by the connection at send time. */
export interface SeqFields {
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

function bhs(opcode: number, flags: number): Buffer {
  const b = Buffer.alloc(BHS_LENGTH);
  b[0] = opcode;
  b[1] = flags;
  return b;
}

function stamp(b: Buffer, s: SeqFields): void {
  b.writeUInt32BE(s.statSN >>> 0, 24);
  b.writeUInt32BE(s.expCmdSN >>> 0, 28);
  b.writeUInt32BE(s.maxCmdSN >>> 0, 32);
}

export interface ScsiResponseFields {
  itt: number;
  status: number;
  response?: number; // 0 = command completed at target
  overflow: boolean;
  underflow: boolean;
  residual: number;
  expDataSN?: number;
}

/** RFC 7143 11.4. */
export function scsiResponse(f: ScsiResponseFields, s: SeqFields): Buffer {
  const b = bhs(
    TargetOpcode.SCSI_RESPONSE,
    BhsFlag.FINAL | (f.overflow ? BhsFlag.OVERFLOW : 0) | (f.underflow ? BhsFlag.UNDERFLOW : 0),
  );
  b[2] = f.response ?? 0;
  b[3] = f.status;
  b.writeUInt32BE(f.itt, 16);
  stamp(b, s);
  b.writeUInt32BE((f.expDataSN ?? 0) >>> 0, 36);
  b.writeUInt32BE(f.residual >>> 0, 44);
  return b;
}

export interface DataInFields {
  itt: number;
  lunBytes: Buffer;
  final: boolean;
  dataSN: number;
  offset: number;
  /** Phase collapse: status in this PDU (RFC 7143 11.7.4). */
  status?: number;
  overflow?: boolean;
  underflow?: boolean;
  residual?: number;
}

/** RFC 7143 11.7. StatSN only advances when the S bit is set (the caller decides). */
export function dataIn(f: DataInFields, s: SeqFields): Buffer {
  const hasStatus = f.status !== undefined;
  const flags =
    (f.final ? BhsFlag.FINAL : 0) |
    (hasStatus
      ? BhsFlag.STATUS | (f.overflow ? BhsFlag.OVERFLOW : 0) | (f.underflow ? BhsFlag.UNDERFLOW : 0)
      : 0);
  const b = bhs(TargetOpcode.SCSI_DATA_IN, flags);
  if (hasStatus) b[3] = f.status!;
  f.lunBytes.copy(b, 8, 0, 8);
  b.writeUInt32BE(f.itt, 16);
  b.writeUInt32BE(RESERVED_TAG, 20);
  stamp(b, s);
  if (!hasStatus) b.writeUInt32BE(0, 24);
  b.writeUInt32BE(f.dataSN >>> 0, 36);
  b.writeUInt32BE(f.offset >>> 0, 40);
  if (hasStatus) b.writeUInt32BE((f.residual ?? 0) >>> 0, 44);
  return b;
}

export interface R2tFields {
  itt: number;
  ttt: number;
  lunBytes: Buffer;
  r2tSN: number;
  offset: number;
  length: number;
}

/** RFC 7143 11.8. R2T carries the current StatSN but does not advance it. */
export function r2t(f: R2tFields, s: SeqFields): Buffer {
  const b = bhs(TargetOpcode.R2T, BhsFlag.FINAL);
  f.lunBytes.copy(b, 8, 0, 8);
  b.writeUInt32BE(f.itt, 16);
  b.writeUInt32BE(f.ttt, 20);
  stamp(b, s);
  b.writeUInt32BE(f.r2tSN >>> 0, 36);
  b.writeUInt32BE(f.offset >>> 0, 40);
  b.writeUInt32BE(f.length >>> 0, 44);
  return b;
}

/** RFC 7143 11.19: a response echoes the NOP-Out's ITT; a ping from us has ITT 0xffffffff. */
export function nopIn(f: { itt: number; ttt: number; lunBytes?: Buffer }, s: SeqFields): Buffer {
  const b = bhs(TargetOpcode.NOP_IN, BhsFlag.FINAL);
  if (f.lunBytes) f.lunBytes.copy(b, 8, 0, 8);
  b.writeUInt32BE(f.itt, 16);
  b.writeUInt32BE(f.ttt, 20);
  stamp(b, s);
  return b;
}

/** RFC 7143 11.6. */
export function tmfResponse(f: { itt: number; response: number }, s: SeqFields): Buffer {
  const b = bhs(TargetOpcode.TASK_MANAGEMENT_RESPONSE, BhsFlag.FINAL);
  b[2] = f.response;
  b.writeUInt32BE(f.itt, 16);
  stamp(b, s);
  return b;
}

/** RFC 7143 11.11. */
export function textResponse(
  f: { itt: number; ttt: number; final: boolean; continue: boolean; lunBytes?: Buffer },
  s: SeqFields,
): Buffer {
  const b = bhs(
    TargetOpcode.TEXT_RESPONSE,
    (f.final ? BhsFlag.FINAL : 0) | (f.continue ? BhsFlag.CONTINUE : 0),
  );
  if (f.lunBytes) f.lunBytes.copy(b, 8, 0, 8);
  b.writeUInt32BE(f.itt, 16);
  b.writeUInt32BE(f.ttt, 20);
  stamp(b, s);
  return b;
}

export interface LoginResponseFields {
  transit: boolean;
  continue: boolean;
  csg: number;
  nsg: number;
  isid: Buffer;
  tsih: number;
  itt: number;
  statusClass: number;
  statusDetail: number;
}

/** RFC 7143 11.13. */
export function loginResponse(f: LoginResponseFields, s: SeqFields): Buffer {
  const b = bhs(
    TargetOpcode.LOGIN_RESPONSE,
    (f.transit ? BhsFlag.TRANSIT : 0) |
      (f.continue ? BhsFlag.CONTINUE : 0) |
      ((f.csg & 3) << 2) |
      (f.transit ? f.nsg & 3 : 0),
  );
  b[2] = 0x00; // Version-max
  b[3] = 0x00; // Version-active
  f.isid.copy(b, 8, 0, 6);
  b.writeUInt16BE(f.tsih, 14);
  b.writeUInt32BE(f.itt, 16);
  stamp(b, s);
  b[36] = f.statusClass;
  b[37] = f.statusDetail;
  return b;
}

/** RFC 7143 11.15. */
export function logoutResponse(
  f: { itt: number; response: number; time2wait: number; time2retain: number },
  s: SeqFields,
): Buffer {
  const b = bhs(TargetOpcode.LOGOUT_RESPONSE, BhsFlag.FINAL);
  b[2] = f.response;
  b.writeUInt32BE(f.itt, 16);
  stamp(b, s);
  b.writeUInt16BE(f.time2wait, 40);
  b.writeUInt16BE(f.time2retain, 42);
  return b;
}

/** RFC 7143 11.17: the data segment is the rejected PDU's header. */
export function reject(f: { reason: number; dataSN?: number }, s: SeqFields): Buffer {
  const b = bhs(TargetOpcode.REJECT, BhsFlag.FINAL);
  b[2] = f.reason;
  b.writeUInt32BE(RESERVED_TAG, 16);
  stamp(b, s);
  b.writeUInt32BE((f.dataSN ?? 0) >>> 0, 36);
  return b;
}

/** RFC 7143 11.9. */
export function asyncMessage(
  f: { event: number; vcode?: number; lunBytes?: Buffer; param1?: number; param2?: number; param3?: number },
  s: SeqFields,
): Buffer {
  const b = bhs(TargetOpcode.ASYNC_MESSAGE, BhsFlag.FINAL);
  if (f.lunBytes) f.lunBytes.copy(b, 8, 0, 8);
  b.writeUInt32BE(RESERVED_TAG, 16);
  stamp(b, s);
  b[36] = f.event;
  b[37] = f.vcode ?? 0;
  b.writeUInt16BE(f.param1 ?? 0, 38);
  b.writeUInt16BE(f.param2 ?? 0, 40);
  b.writeUInt16BE(f.param3 ?? 0, 42);
  return b;
}
