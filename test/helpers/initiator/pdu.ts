// iSCSI PDU codec for the test initiator, written from RFC 7143 section 11. Independent of src/:
// it exists to check the target on the wire, so it must not share the target's mistakes.
import { crc32c } from '@node-rs/crc32';

export const BHS_LENGTH = 48;
/** RFC 7143 11.1: 0xffffffff is the reserved Initiator/Target Transfer Tag. */
export const RESERVED_TAG = 0xffffffff;

export const Opcode = {
  NopOut: 0x00,
  ScsiCommand: 0x01,
  TaskMgmtRequest: 0x02,
  LoginRequest: 0x03,
  TextRequest: 0x04,
  DataOut: 0x05,
  LogoutRequest: 0x06,
  SnackRequest: 0x10,
  NopIn: 0x20,
  ScsiResponse: 0x21,
  TaskMgmtResponse: 0x22,
  LoginResponse: 0x23,
  TextResponse: 0x24,
  DataIn: 0x25,
  LogoutResponse: 0x26,
  ReadyToTransfer: 0x31,
  AsyncMessage: 0x32,
  Reject: 0x3f,
} as const;

/** RFC 7143 11.3.1.2 task attributes (ATTR field of the SCSI Command PDU). */
export const TaskAttribute = { UNTAGGED: 0, SIMPLE: 1, ORDERED: 2, HEAD_OF_QUEUE: 3, ACA: 4 } as const;
export type TaskAttributeName = keyof typeof TaskAttribute;

/** RFC 7143 11.5.1 task management function codes. */
export const TmfFunction = {
  ABORT_TASK: 1,
  ABORT_TASK_SET: 2,
  CLEAR_ACA: 3,
  CLEAR_TASK_SET: 4,
  LUN_RESET: 5,
  TARGET_WARM_RESET: 6,
  TARGET_COLD_RESET: 7,
  TASK_REASSIGN: 8,
} as const;
export type TmfFunctionName = keyof typeof TmfFunction;

/** RFC 7143 11.6.1 task management response codes. */
export const TmfResponse = {
  FUNCTION_COMPLETE: 0,
  TASK_DOES_NOT_EXIST: 1,
  LUN_DOES_NOT_EXIST: 2,
  TASK_STILL_ALLEGIANT: 3,
  TASK_ALLEGIANCE_REASSIGNMENT_NOT_SUPPORTED: 4,
  TMF_NOT_SUPPORTED: 5,
  FUNCTION_AUTHORIZATION_FAILED: 6,
  FUNCTION_REJECTED: 255,
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
  NEGOTIATION_RESET: 0x0b,
  WAITING_FOR_LOGOUT: 0x0c,
} as const;

/** RFC 7143 11.12.2 login stages (CSG/NSG). */
export const Stage = { Security: 0, Operational: 1, FullFeature: 3 } as const;

// ---------------------------------------------------------------------------------------------
// Serial number arithmetic (RFC 1982, SERIAL_BITS = 32) as required by RFC 7143 4.2.2.1.

export function snAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** a < b in serial arithmetic (the undefined distance 2^31 compares as "less"). */
export function snLt(a: number, b: number): boolean {
  return a !== b && ((a - b) | 0) < 0;
}
export function snLte(a: number, b: number): boolean {
  return a === b || snLt(a, b);
}

// ---------------------------------------------------------------------------------------------
// LUN encoding (SAM-5 4.7: peripheral device addressing below 256, flat space addressing above).

export function encodeLun(lun: number): Buffer {
  const b = Buffer.alloc(8);
  if (!Number.isInteger(lun) || lun < 0 || lun > 0x3fff) throw new RangeError(`LUN ${lun} out of range`);
  if (lun < 256) b[1] = lun;
  else {
    b[0] = 0x40 | (lun >> 8);
    b[1] = lun & 0xff;
  }
  return b;
}

export function decodeLun(b: Buffer): number {
  const method = b[0]! >> 6;
  if (method === 0) return b[1]!;
  if (method === 1) return ((b[0]! & 0x3f) << 8) | b[1]!;
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Building outgoing PDUs.

/** An outgoing PDU before framing; encodePdu adds padding and digests. */
export interface OutgoingPdu {
  bhs: Buffer;
  ahs?: Buffer;
  data?: Buffer;
}

export interface BhsFields {
  opcode: number;
  immediate?: boolean;
  /** Byte 1 (the F bit is 0x80). */
  flags?: number;
  byte2?: number;
  byte3?: number;
  /** In 4-byte words; encodePdu fills it from the AHS unless rawLengths is set. */
  totalAhsLength?: number;
  /** encodePdu fills it from the data unless rawLengths is set. */
  dataSegmentLength?: number;
  /** Bytes 8..15: a LUN number, or 8 raw bytes (ISID+TSIH for Login). */
  lun?: number | Buffer;
  itt?: number;
  /** Big-endian 32-bit words at byte offsets 20, 24, ... 44. */
  words?: Readonly<Record<number, number>>;
}

/** Generic 48-byte BHS builder (RFC 7143 11.2.1); the typed builders below all go through it. */
export function buildBhs(f: BhsFields): Buffer {
  const b = Buffer.alloc(BHS_LENGTH);
  b[0] = (f.immediate ? 0x40 : 0) | (f.opcode & 0x3f);
  b[1] = (f.flags ?? 0) & 0xff;
  b[2] = (f.byte2 ?? 0) & 0xff;
  b[3] = (f.byte3 ?? 0) & 0xff;
  b[4] = (f.totalAhsLength ?? 0) & 0xff;
  b.writeUIntBE((f.dataSegmentLength ?? 0) & 0xffffff, 5, 3);
  if (f.lun !== undefined) {
    const lun = typeof f.lun === 'number' ? encodeLun(f.lun) : f.lun;
    if (lun.length !== 8) throw new RangeError('LUN field must be 8 bytes');
    lun.copy(b, 8);
  }
  b.writeUInt32BE((f.itt ?? 0) >>> 0, 16);
  for (const [off, v] of Object.entries(f.words ?? {})) {
    const o = Number(off);
    if (o < 20 || o > 44 || o % 4 !== 0) throw new RangeError(`word offset ${o} outside 20..44`);
    b.writeUInt32BE(v >>> 0, o);
  }
  return b;
}

export interface ScsiCommandFields {
  lun: number;
  itt: number;
  cmdSN: number;
  expStatSN: number;
  cdb: Buffer;
  expectedDataTransferLength: number;
  read?: boolean;
  write?: boolean;
  final?: boolean;
  attribute?: TaskAttributeName;
  immediate?: boolean;
  /** Bidirectional commands: the read length goes into an AHS (RFC 7143 11.3.1.2, type 2). */
  bidiReadLength?: number;
  data?: Buffer;
}

export function buildScsiCommand(f: ScsiCommandFields): OutgoingPdu {
  const flags =
    (f.final === false ? 0 : 0x80) |
    (f.read ? 0x40 : 0) |
    (f.write ? 0x20 : 0) |
    TaskAttribute[f.attribute ?? 'SIMPLE'];
  const bhs = buildBhs({
    opcode: Opcode.ScsiCommand,
    immediate: f.immediate,
    flags,
    lun: f.lun,
    itt: f.itt,
    words: { 20: f.expectedDataTransferLength, 24: f.cmdSN, 28: f.expStatSN },
  });
  f.cdb.copy(bhs, 32, 0, Math.min(16, f.cdb.length));
  const ahs: Buffer[] = [];
  if (f.cdb.length > 16) {
    // RFC 7143 11.2.2.3: Extended CDB AHS; AHSLength counts the reserved byte, excludes padding.
    const extra = f.cdb.subarray(16);
    const seg = Buffer.alloc(pad4(4 + extra.length));
    seg.writeUInt16BE(extra.length + 1, 0);
    seg[2] = 0x01;
    extra.copy(seg, 4);
    ahs.push(seg);
  }
  if (f.bidiReadLength !== undefined) {
    const seg = Buffer.alloc(8);
    seg.writeUInt16BE(5, 0);
    seg[2] = 0x02;
    seg.writeUInt32BE(f.bidiReadLength >>> 0, 4);
    ahs.push(seg);
  }
  return { bhs, ahs: ahs.length > 0 ? Buffer.concat(ahs) : undefined, data: f.data };
}

export interface DataOutFields {
  lun: number;
  itt: number;
  ttt: number;
  expStatSN: number;
  dataSN: number;
  bufferOffset: number;
  final: boolean;
  data: Buffer;
}

export function buildDataOut(f: DataOutFields): OutgoingPdu {
  return {
    bhs: buildBhs({
      opcode: Opcode.DataOut,
      flags: f.final ? 0x80 : 0,
      lun: f.lun,
      itt: f.itt,
      words: { 20: f.ttt, 28: f.expStatSN, 36: f.dataSN, 40: f.bufferOffset },
    }),
    data: f.data,
  };
}

export interface NopOutFields {
  itt: number;
  ttt?: number;
  lun?: number | Buffer;
  cmdSN: number;
  expStatSN: number;
  immediate?: boolean;
  data?: Buffer;
}

export function buildNopOut(f: NopOutFields): OutgoingPdu {
  return {
    bhs: buildBhs({
      opcode: Opcode.NopOut,
      immediate: f.immediate,
      flags: 0x80,
      lun: f.lun ?? 0,
      itt: f.itt,
      words: { 20: f.ttt ?? RESERVED_TAG, 24: f.cmdSN, 28: f.expStatSN },
    }),
    data: f.data,
  };
}

export interface TmfRequestFields {
  fn: TmfFunctionName;
  lun: number;
  itt: number;
  referencedTaskTag?: number;
  cmdSN: number;
  expStatSN: number;
  refCmdSN?: number;
  expDataSN?: number;
  immediate?: boolean;
}

export function buildTmfRequest(f: TmfRequestFields): OutgoingPdu {
  return {
    bhs: buildBhs({
      opcode: Opcode.TaskMgmtRequest,
      immediate: f.immediate ?? true,
      flags: 0x80 | TmfFunction[f.fn],
      lun: f.lun,
      itt: f.itt,
      words: {
        20: f.referencedTaskTag ?? RESERVED_TAG,
        24: f.cmdSN,
        28: f.expStatSN,
        32: f.refCmdSN ?? 0,
        36: f.expDataSN ?? 0,
      },
    }),
  };
}

export interface LoginRequestFields {
  transit: boolean;
  cont?: boolean;
  csg: number;
  nsg: number;
  isid: Buffer;
  tsih: number;
  itt: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
  versionMax?: number;
  versionMin?: number;
  data?: Buffer;
}

export function buildLoginRequest(f: LoginRequestFields): OutgoingPdu {
  if (f.isid.length !== 6) throw new RangeError('ISID must be 6 bytes');
  const isidTsih = Buffer.alloc(8);
  f.isid.copy(isidTsih, 0);
  isidTsih.writeUInt16BE(f.tsih, 6);
  const bhs = buildBhs({
    opcode: Opcode.LoginRequest,
    immediate: true,
    flags: (f.transit ? 0x80 : 0) | (f.cont ? 0x40 : 0) | ((f.csg & 3) << 2) | (f.nsg & 3),
    byte2: f.versionMax ?? 0,
    byte3: f.versionMin ?? 0,
    lun: isidTsih,
    itt: f.itt,
    words: { 24: f.cmdSN, 28: f.expStatSN },
  });
  bhs.writeUInt16BE(f.cid, 20);
  return { bhs, data: f.data };
}

export interface TextRequestFields {
  final?: boolean;
  cont?: boolean;
  lun?: number;
  itt: number;
  ttt?: number;
  cmdSN: number;
  expStatSN: number;
  immediate?: boolean;
  data?: Buffer;
}

export function buildTextRequest(f: TextRequestFields): OutgoingPdu {
  return {
    bhs: buildBhs({
      opcode: Opcode.TextRequest,
      immediate: f.immediate,
      flags: (f.final === false ? 0 : 0x80) | (f.cont ? 0x40 : 0),
      lun: f.lun ?? 0,
      itt: f.itt,
      words: { 20: f.ttt ?? RESERVED_TAG, 24: f.cmdSN, 28: f.expStatSN },
    }),
    data: f.data,
  };
}

export interface LogoutRequestFields {
  reason: number;
  itt: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
  immediate?: boolean;
}

export function buildLogoutRequest(f: LogoutRequestFields): OutgoingPdu {
  const bhs = buildBhs({
    opcode: Opcode.LogoutRequest,
    immediate: f.immediate ?? true,
    flags: 0x80 | (f.reason & 0x7f),
    itt: f.itt,
    words: { 24: f.cmdSN, 28: f.expStatSN },
  });
  bhs.writeUInt16BE(f.cid, 20);
  return { bhs };
}

export interface SnackRequestFields {
  type: number;
  lun?: number;
  itt: number;
  ttt?: number;
  expStatSN: number;
  begRun: number;
  runLength: number;
}

export function buildSnackRequest(f: SnackRequestFields): OutgoingPdu {
  return {
    bhs: buildBhs({
      opcode: Opcode.SnackRequest,
      flags: 0x80 | (f.type & 0x0f),
      lun: f.lun ?? 0,
      itt: f.itt,
      words: { 20: f.ttt ?? RESERVED_TAG, 28: f.expStatSN, 40: f.begRun, 44: f.runLength },
    }),
  };
}

export function pad4(n: number): number {
  return (n + 3) & ~3;
}

export interface FramingOptions {
  headerDigest?: boolean;
  dataDigest?: boolean;
  /** Keep TotalAHSLength and DataSegmentLength as already written in the BHS (for fuzzing). */
  rawLengths?: boolean;
}

/**
 * Frames one PDU: BHS, AHS, header digest, data + padding, data digest (RFC 7143 11.1).
 * CRC32C goes on the wire least significant byte first (RFC 7143 Appendix B.4 example).
 */
export function encodePdu(pdu: OutgoingPdu, opts: FramingOptions = {}): Buffer {
  const bhs = Buffer.from(pdu.bhs);
  const ahs = pdu.ahs ?? Buffer.alloc(0);
  const data = pdu.data ?? Buffer.alloc(0);
  if (ahs.length % 4 !== 0) throw new RangeError('AHS length must be a multiple of 4');
  if (!opts.rawLengths) {
    bhs[4] = ahs.length / 4;
    bhs.writeUIntBE(data.length, 5, 3);
  }
  const parts: Buffer[] = [bhs];
  if (ahs.length > 0) parts.push(ahs);
  if (opts.headerDigest) parts.push(digestBytes(crc32c(ahs, crc32c(bhs))));
  if (data.length > 0) {
    const padded =
      pad4(data.length) === data.length
        ? data
        : Buffer.concat([data, Buffer.alloc(pad4(data.length) - data.length)]);
    parts.push(padded);
    if (opts.dataDigest) parts.push(digestBytes(crc32c(padded)));
  }
  return Buffer.concat(parts);
}

export function digestBytes(crc: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(crc >>> 0, 0);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Parsing incoming PDUs.

/** One received PDU after framing was removed and digests checked (data without padding). */
export interface RawPdu {
  bhs: Buffer;
  ahs: Buffer;
  data: Buffer;
}

interface SeqFields {
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

export interface ScsiResponsePdu extends SeqFields {
  kind: 'ScsiResponse';
  raw: RawPdu;
  itt: number;
  response: number;
  status: number;
  bidiOverflow: boolean;
  bidiUnderflow: boolean;
  overflow: boolean;
  underflow: boolean;
  snackTag: number;
  expDataSN: number;
  bidiResidualCount: number;
  residualCount: number;
  senseData: Buffer;
  responseData: Buffer;
}

export interface DataInPdu extends SeqFields {
  kind: 'DataIn';
  raw: RawPdu;
  final: boolean;
  ack: boolean;
  overflow: boolean;
  underflow: boolean;
  hasStatus: boolean;
  status: number;
  lun: number;
  itt: number;
  ttt: number;
  dataSN: number;
  bufferOffset: number;
  residualCount: number;
  data: Buffer;
}

export interface R2tPdu extends SeqFields {
  kind: 'R2T';
  raw: RawPdu;
  lun: number;
  itt: number;
  ttt: number;
  r2tSN: number;
  bufferOffset: number;
  desiredLength: number;
}

export interface NopInPdu extends SeqFields {
  kind: 'NopIn';
  raw: RawPdu;
  lun: Buffer;
  itt: number;
  ttt: number;
  data: Buffer;
}

export interface TmfResponsePdu extends SeqFields {
  kind: 'TmfResponse';
  raw: RawPdu;
  itt: number;
  response: number;
}

export interface LoginResponsePdu extends SeqFields {
  kind: 'LoginResponse';
  raw: RawPdu;
  transit: boolean;
  cont: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionActive: number;
  isid: Buffer;
  tsih: number;
  itt: number;
  statusClass: number;
  statusDetail: number;
  data: Buffer;
}

export interface TextResponsePdu extends SeqFields {
  kind: 'TextResponse';
  raw: RawPdu;
  final: boolean;
  cont: boolean;
  itt: number;
  ttt: number;
  data: Buffer;
}

export interface LogoutResponsePdu extends SeqFields {
  kind: 'LogoutResponse';
  raw: RawPdu;
  itt: number;
  response: number;
  time2Wait: number;
  time2Retain: number;
}

export interface AsyncMessagePdu extends SeqFields {
  kind: 'AsyncMessage';
  raw: RawPdu;
  lun: number;
  asyncEvent: number;
  asyncVCode: number;
  parameter1: number;
  parameter2: number;
  parameter3: number;
  senseData: Buffer;
  eventData: Buffer;
}

export interface RejectPdu extends SeqFields {
  kind: 'Reject';
  raw: RawPdu;
  reason: number;
  dataSN: number;
  /** The BHS of the rejected PDU (RFC 7143 11.17.3). */
  rejectedHeader: Buffer;
  rejectedOpcode: number;
  rejectedItt: number;
}

export interface UnknownPdu {
  kind: 'Unknown';
  raw: RawPdu;
  opcode: number;
  itt: number;
}

export type TargetPdu =
  | ScsiResponsePdu
  | DataInPdu
  | R2tPdu
  | NopInPdu
  | TmfResponsePdu
  | LoginResponsePdu
  | TextResponsePdu
  | LogoutResponsePdu
  | AsyncMessagePdu
  | RejectPdu
  | UnknownPdu;

export function opcodeOf(bhs: Buffer): number {
  return bhs[0]! & 0x3f;
}

function seq(b: Buffer): SeqFields {
  return { statSN: b.readUInt32BE(24), expCmdSN: b.readUInt32BE(28), maxCmdSN: b.readUInt32BE(32) };
}

/** SenseLength-prefixed segment used by SCSI Response and Async Message (RFC 7143 11.4.7). */
export function splitSenseSegment(data: Buffer): { sense: Buffer; rest: Buffer } {
  if (data.length < 2) return { sense: Buffer.alloc(0), rest: Buffer.alloc(0) };
  const len = data.readUInt16BE(0);
  if (2 + len > data.length) throw new RangeError(`SenseLength ${len} exceeds data segment ${data.length}`);
  return { sense: data.subarray(2, 2 + len), rest: data.subarray(2 + len) };
}

/** Decodes a target→initiator PDU. Throws RangeError on a malformed segment. */
export function decodeTargetPdu(raw: RawPdu): TargetPdu {
  const b = raw.bhs;
  const flags = b[1]!;
  const itt = b.readUInt32BE(16);
  switch (opcodeOf(b)) {
    case Opcode.ScsiResponse: {
      const { sense, rest } = splitSenseSegment(raw.data);
      return {
        kind: 'ScsiResponse',
        raw,
        itt,
        response: b[2]!,
        status: b[3]!,
        bidiOverflow: (flags & 0x10) !== 0,
        bidiUnderflow: (flags & 0x08) !== 0,
        overflow: (flags & 0x04) !== 0,
        underflow: (flags & 0x02) !== 0,
        snackTag: b.readUInt32BE(20),
        ...seq(b),
        expDataSN: b.readUInt32BE(36),
        bidiResidualCount: b.readUInt32BE(40),
        residualCount: b.readUInt32BE(44),
        senseData: sense,
        responseData: rest,
      };
    }
    case Opcode.DataIn:
      return {
        kind: 'DataIn',
        raw,
        final: (flags & 0x80) !== 0,
        ack: (flags & 0x40) !== 0,
        overflow: (flags & 0x04) !== 0,
        underflow: (flags & 0x02) !== 0,
        hasStatus: (flags & 0x01) !== 0,
        status: b[3]!,
        lun: decodeLun(b.subarray(8, 16)),
        itt,
        ttt: b.readUInt32BE(20),
        ...seq(b),
        dataSN: b.readUInt32BE(36),
        bufferOffset: b.readUInt32BE(40),
        residualCount: b.readUInt32BE(44),
        data: raw.data,
      };
    case Opcode.ReadyToTransfer:
      return {
        kind: 'R2T',
        raw,
        lun: decodeLun(b.subarray(8, 16)),
        itt,
        ttt: b.readUInt32BE(20),
        ...seq(b),
        r2tSN: b.readUInt32BE(36),
        bufferOffset: b.readUInt32BE(40),
        desiredLength: b.readUInt32BE(44),
      };
    case Opcode.NopIn:
      return {
        kind: 'NopIn',
        raw,
        lun: Buffer.from(b.subarray(8, 16)),
        itt,
        ttt: b.readUInt32BE(20),
        ...seq(b),
        data: raw.data,
      };
    case Opcode.TaskMgmtResponse:
      return { kind: 'TmfResponse', raw, itt, response: b[2]!, ...seq(b) };
    case Opcode.LoginResponse:
      return {
        kind: 'LoginResponse',
        raw,
        transit: (flags & 0x80) !== 0,
        cont: (flags & 0x40) !== 0,
        csg: (flags >> 2) & 3,
        nsg: flags & 3,
        versionMax: b[2]!,
        versionActive: b[3]!,
        isid: Buffer.from(b.subarray(8, 14)),
        tsih: b.readUInt16BE(14),
        itt,
        ...seq(b),
        statusClass: b[36]!,
        statusDetail: b[37]!,
        data: raw.data,
      };
    case Opcode.TextResponse:
      return {
        kind: 'TextResponse',
        raw,
        final: (flags & 0x80) !== 0,
        cont: (flags & 0x40) !== 0,
        itt,
        ttt: b.readUInt32BE(20),
        ...seq(b),
        data: raw.data,
      };
    case Opcode.LogoutResponse:
      return {
        kind: 'LogoutResponse',
        raw,
        itt,
        response: b[2]!,
        ...seq(b),
        time2Wait: b.readUInt16BE(40),
        time2Retain: b.readUInt16BE(42),
      };
    case Opcode.AsyncMessage: {
      const { sense, rest } = splitSenseSegment(raw.data);
      return {
        kind: 'AsyncMessage',
        raw,
        lun: decodeLun(b.subarray(8, 16)),
        ...seq(b),
        asyncEvent: b[36]!,
        asyncVCode: b[37]!,
        parameter1: b.readUInt16BE(38),
        parameter2: b.readUInt16BE(40),
        parameter3: b.readUInt16BE(42),
        senseData: sense,
        eventData: rest,
      };
    }
    case Opcode.Reject: {
      const hdr = raw.data.subarray(0, BHS_LENGTH);
      return {
        kind: 'Reject',
        raw,
        reason: b[2]!,
        ...seq(b),
        dataSN: b.readUInt32BE(36),
        rejectedHeader: hdr,
        rejectedOpcode: hdr.length > 0 ? opcodeOf(hdr) : -1,
        rejectedItt: hdr.length >= 20 ? hdr.readUInt32BE(16) : RESERVED_TAG,
      };
    }
    default:
      return { kind: 'Unknown', raw, opcode: opcodeOf(b), itt };
  }
}
