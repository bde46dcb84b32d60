// Sense data decoding (SPC-4 4.5): fixed format 0x70/0x71 and descriptor format 0x72/0x73.

export interface SenseData {
  responseCode: number;
  format: 'fixed' | 'descriptor';
  /** 0x70/0x72: current error; 0x71/0x73: deferred. */
  deferred: boolean;
  key: number;
  asc: number;
  ascq: number;
  /** Fixed format INFORMATION field when VALID is set, or the descriptor-format type 0 descriptor. */
  information?: bigint;
  /** Sense-key specific bytes (3) when SKSV is set. */
  senseKeySpecific?: Buffer;
  /** Descriptor format only: each descriptor with its type byte. */
  descriptors: Array<{ type: number; body: Buffer }>;
  raw: Buffer;
}

/** Returns undefined for an empty buffer or an unknown response code. */
export function parseSense(raw: Buffer): SenseData | undefined {
  if (raw.length === 0) return undefined;
  const responseCode = raw[0]! & 0x7f;
  if (responseCode === 0x70 || responseCode === 0x71) {
    const sense: SenseData = {
      responseCode,
      format: 'fixed',
      deferred: responseCode === 0x71,
      key: (raw[2] ?? 0) & 0x0f,
      asc: raw[12] ?? 0,
      ascq: raw[13] ?? 0,
      descriptors: [],
      raw,
    };
    if ((raw[0]! & 0x80) !== 0 && raw.length >= 7) sense.information = BigInt(raw.readUInt32BE(3));
    if (raw.length >= 18 && (raw[15]! & 0x80) !== 0)
      sense.senseKeySpecific = Buffer.from(raw.subarray(15, 18));
    return sense;
  }
  if (responseCode === 0x72 || responseCode === 0x73) {
    const sense: SenseData = {
      responseCode,
      format: 'descriptor',
      deferred: responseCode === 0x73,
      key: (raw[1] ?? 0) & 0x0f,
      asc: raw[2] ?? 0,
      ascq: raw[3] ?? 0,
      descriptors: [],
      raw,
    };
    const end = Math.min(raw.length, 8 + (raw[7] ?? 0));
    let off = 8;
    while (off + 2 <= end) {
      const type = raw[off]!;
      const len = raw[off + 1]!;
      const body = Buffer.from(raw.subarray(off + 2, Math.min(end, off + 2 + len)));
      sense.descriptors.push({ type, body });
      // SPC-4 4.5.2.2: information descriptor, VALID bit in byte 0 of the body.
      if (type === 0x00 && body.length >= 10 && (body[0]! & 0x80) !== 0)
        sense.information = body.readBigUInt64BE(2);
      if (type === 0x02 && body.length >= 5 && (body[2]! & 0x80) !== 0)
        sense.senseKeySpecific = body.subarray(2, 5);
      off += 2 + len;
    }
    return sense;
  }
  return undefined;
}

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

/** SAM-5 status codes. */
export const ScsiStatus = {
  GOOD: 0x00,
  CHECK_CONDITION: 0x02,
  CONDITION_MET: 0x04,
  BUSY: 0x08,
  RESERVATION_CONFLICT: 0x18,
  TASK_SET_FULL: 0x28,
  ACA_ACTIVE: 0x30,
  TASK_ABORTED: 0x40,
} as const;
