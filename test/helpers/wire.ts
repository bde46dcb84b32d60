// What every suite reads off the wire: SCSI status codes (SAM-5 5.3), sense keys (SPC-4 4.5.6)
// and the one sense data decoder (SPC-4 4.5.2 descriptor format, 4.5.3 fixed format). The
// numbers are written out from the standards here, never imported from src/scsi/spec, so that
// the tests never trust src/scsi/sense-reason.ts to check itself. The loopback harness, the test
// initiator, the multipath client and the fuzzer all decode sense through this file.
import assert from 'node:assert/strict';

/** SAM-5 5.3.1: status codes. */
export const Status = {
  GOOD: 0x00,
  CHECK_CONDITION: 0x02,
  CONDITION_MET: 0x04,
  BUSY: 0x08,
  RESERVATION_CONFLICT: 0x18,
  TASK_SET_FULL: 0x28,
  ACA_ACTIVE: 0x30,
  TASK_ABORTED: 0x40,
} as const;

/** SPC-4 4.5.6: sense keys. */
export const SenseKey = {
  NO_SENSE: 0x0,
  RECOVERED_ERROR: 0x1,
  NOT_READY: 0x2,
  MEDIUM_ERROR: 0x3,
  HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5,
  UNIT_ATTENTION: 0x6,
  DATA_PROTECT: 0x7,
  BLANK_CHECK: 0x8,
  VENDOR_SPECIFIC: 0x9,
  COPY_ABORTED: 0xa,
  ABORTED_COMMAND: 0xb,
  VOLUME_OVERFLOW: 0xd,
  MISCOMPARE: 0xe,
} as const;

/** SPC-4 4.5.2.4.2 field pointer sense-key specific data, decoded. */
export interface FieldPointer {
  /** C/D: 1 = the field is in the CDB, 0 = in the parameter list. */
  inCdb: boolean;
  byte: number;
  /** Present when BPV is set. */
  bit?: number;
}

export interface SenseData {
  format: 'fixed' | 'descriptor';
  responseCode: number;
  /** 0x70/0x72: current error; 0x71/0x73: deferred. */
  deferred: boolean;
  key: number;
  asc: number;
  ascq: number;
  /** INFORMATION when VALID (fixed) or an information descriptor with VALID (descriptor format). */
  information?: bigint;
  /** Sense-key specific bytes (3) when SKSV is set. */
  senseKeySpecific?: Buffer;
  /** The sense-key specific bytes read as a field pointer, when SKSV is set. */
  field?: FieldPointer;
  /** Descriptor format only: each descriptor with its type byte. */
  descriptors: Array<{ type: number; body: Buffer }>;
  /** Descriptor format only: the type codes in order. */
  descriptorTypes: number[];
  raw: Buffer;
}

function fieldPointer(b: Buffer): FieldPointer | undefined {
  if (b.length < 3 || (b[0]! & 0x80) === 0) return undefined; // SKSV
  const fp: FieldPointer = { inCdb: (b[0]! & 0x40) !== 0, byte: (b[1]! << 8) | b[2]! };
  if ((b[0]! & 0x08) !== 0) fp.bit = b[0]! & 0x07; // BPV
  return fp;
}

function withSenseKeySpecific(sense: SenseData, sks: Buffer): void {
  const field = fieldPointer(sks);
  if (!field) return;
  sense.senseKeySpecific = Buffer.from(sks);
  sense.field = field;
}

/**
 * Reads sense data as far as it goes: undefined for an empty buffer or an unknown response
 * code, short fields read as zero. For a peer's answer that must be judged, not trusted (the
 * test initiator, the fuzzer); use decodeSense to insist on well-formed sense.
 */
export function parseSense(raw: Buffer): SenseData | undefined {
  if (raw.length === 0) return undefined;
  const responseCode = raw[0]! & 0x7f;
  if (responseCode === 0x70 || responseCode === 0x71) {
    const sense: SenseData = {
      format: 'fixed',
      responseCode,
      deferred: responseCode === 0x71,
      key: (raw[2] ?? 0) & 0x0f,
      asc: raw[12] ?? 0,
      ascq: raw[13] ?? 0,
      descriptors: [],
      descriptorTypes: [],
      raw,
    };
    if ((raw[0]! & 0x80) !== 0 && raw.length >= 7) sense.information = BigInt(raw.readUInt32BE(3));
    if (raw.length >= 18) withSenseKeySpecific(sense, raw.subarray(15, 18));
    return sense;
  }
  if (responseCode === 0x72 || responseCode === 0x73) {
    const sense: SenseData = {
      format: 'descriptor',
      responseCode,
      deferred: responseCode === 0x73,
      key: (raw[1] ?? 0) & 0x0f,
      asc: raw[2] ?? 0,
      ascq: raw[3] ?? 0,
      descriptors: [],
      descriptorTypes: [],
      raw,
    };
    const end = Math.min(raw.length, 8 + (raw[7] ?? 0));
    for (let off = 8; off + 2 <= end; ) {
      const type = raw[off]!;
      const len = raw[off + 1]!;
      const body = Buffer.from(raw.subarray(off + 2, Math.min(end, off + 2 + len)));
      sense.descriptors.push({ type, body });
      sense.descriptorTypes.push(type);
      // SPC-4 4.5.2.2: information descriptor, VALID bit in byte 0 of the body.
      if (type === 0x00 && body.length >= 10 && (body[0]! & 0x80) !== 0)
        sense.information = body.readBigUInt64BE(2);
      // SPC-4 4.5.2.3: sense key specific descriptor, SKSV in byte 2 of the body.
      if (type === 0x02 && body.length >= 5) withSenseKeySpecific(sense, body.subarray(2, 5));
      off += 2 + len;
    }
    return sense;
  }
  return undefined;
}

/** Decodes sense data that must be well formed (what Tandem itself sends); throws otherwise. */
export function decodeSense(raw: Buffer): SenseData {
  const code = (raw[0] ?? 0) & 0x7f;
  if ((code === 0x70 || code === 0x71) && raw.length < 18)
    throw new Error(`fixed sense too short: ${raw.length} bytes`);
  if ((code === 0x72 || code === 0x73) && (raw.length < 8 || 8 + raw[7]! > raw.length))
    throw new Error(`descriptor sense: additional length ${raw[7]} past ${raw.length} bytes`);
  const sense = parseSense(raw);
  if (!sense) throw new Error(`unknown sense response code 0x${code.toString(16)}`);
  return sense;
}

/** Anything that completed with a status: a loopback Completion or an initiator ScsiResult. */
export interface StatusAndSense {
  status: number;
  sense?: Buffer | SenseData | undefined;
}

function senseData(sense: Buffer | SenseData): SenseData {
  return Buffer.isBuffer(sense) ? decodeSense(sense) : sense;
}

/** The sense of a result that must be CHECK CONDITION with sense data. */
export function senseOf(r: StatusAndSense): SenseData {
  if (r.status !== Status.CHECK_CONDITION)
    throw new Error(`status 0x${r.status.toString(16)}, not CHECK CONDITION`);
  if (!r.sense) throw new Error('CHECK CONDITION without sense data');
  return senseData(r.sense);
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** "05/24/00" for a CHECK CONDITION, "GOOD" / "CONDITION MET" / "status N" otherwise. */
export function kcq(r: StatusAndSense): string {
  if (r.status === Status.GOOD) return 'GOOD';
  if (r.status === Status.CONDITION_MET) return 'CONDITION MET';
  if (r.status !== Status.CHECK_CONDITION || !r.sense) return `status ${r.status}`;
  const s = senseData(r.sense);
  return `${hex2(s.key)}/${hex2(s.asc)}/${hex2(s.ascq)}`;
}

/** Asserts CHECK CONDITION with this sense key, ASC and ASCQ; returns the decoded sense. */
export function expectSense(r: StatusAndSense, key: number, asc: number, ascq: number): SenseData {
  assert.equal(kcq(r), `${hex2(key)}/${hex2(asc)}/${hex2(ascq)}`, 'CHECK CONDITION sense key/ASC/ASCQ');
  return senseOf(r);
}
