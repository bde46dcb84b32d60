import { readU64 } from '../cdb.js';
import { reason, type SenseReason } from '../sense-reason.js';

/**
 * The EXTENDED COPY (LID1) parameter list (SPC-4 6.4.3): the limits this copy manager enforces
 * and reports, and the validation of the header, the CSCD descriptors and the segment
 * descriptors before anything is copied.
 */

/** Limits reported by OPERATING PARAMETERS and enforced by the copy manager. */
export const CopyLimits = {
  maxCscdDescriptors: 8,
  maxSegmentDescriptors: 16,
  /** CSCD + segment descriptor list bytes. */
  maxDescriptorListLength: 1024,
  /** Bytes one segment may move (VMware issues 4 MiB by default). */
  maxSegmentBytes: 64 << 20,
  /** EXTENDED COPY commands an I_T nexus may have in progress or held, per LU. */
  maxConcurrentCopies: 16,
  /** Bytes moved per read/write step: bounds memory and lets an abort stop a long copy. */
  chunkBytes: 1 << 20,
} as const;

/** Descriptor type codes (SPC-4 Table 103, 109). */
export const Descriptor = {
  BLOCK_TO_BLOCK: 0x02,
  IDENTIFICATION: 0xe4,
} as const;

const HEADER_LENGTH = 16;
const B2B_LENGTH = 28;
const PERIPHERAL_BLOCK = 0x00;
/** Parameter lists beyond this are refused before any data-out is fetched. */
export const MAX_PARAMETER_LIST = 64 * 1024;

/** LIST ID USAGE (SPC-4 Table 101). */
export const ListIdUsage = { HOLD: 0b00, RESERVED: 0b01, NO_HOLD: 0b10, NO_LIST_ID: 0b11 } as const;

/** INVALID FIELD IN PARAMETER LIST, its field pointer at `byte` (and `bit`) of the list. */
export const paramField = (byte: number, bit?: number): SenseReason =>
  reason('INVALID_FIELD_IN_PARAMETER_LIST', {
    field: bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit },
  });

export interface Cscd {
  /** Offset of the descriptor in the parameter list. */
  readonly offset: number;
  readonly designatorType: number;
  readonly association: number;
  readonly designator: Buffer;
  readonly blockLength: number;
}

export interface Segment {
  readonly offset: number;
  readonly source: number;
  readonly destination: number;
  readonly destinationCounts: boolean;
  readonly blocks: number;
  readonly sourceLba: number;
  readonly destinationLba: number;
}

export interface CopyList {
  readonly listId: number;
  readonly usage: number;
  readonly cscds: Cscd[];
  readonly segments: Segment[];
}

/** Descriptor length by CSCD type code (SPC-4 6.4.5.1): 32 bytes, 64 for EAh and EBh. */
function cscdLength(type: number): number | undefined {
  if (type >= 0xe0 && type <= 0xe9) return 32;
  if (type === 0xea || type === 0xeb) return 64;
  return undefined;
}

/**
 * Validates the parameter list (SPC-4 6.4.3) before anything is copied: the errors here are
 * ILLEGAL REQUEST; errors met while processing a segment are COPY ABORTED.
 */
export function parseList(p: Buffer): CopyList | SenseReason {
  if (p.length < HEADER_LENGTH) return reason('PARAMETER_LIST_LENGTH_ERROR');
  const listId = p[0]!;
  const listIdUsage = (p[1]! >> 3) & 0x03;
  if (listIdUsage === ListIdUsage.RESERVED) return paramField(1, 4);
  const cscdListLength = p.readUInt16BE(2);
  const segmentListLength = p.readUInt32BE(8);
  const inlineLength = p.readUInt32BE(12);
  if (HEADER_LENGTH + cscdListLength + segmentListLength + inlineLength > p.length) {
    return reason('PARAMETER_LIST_LENGTH_ERROR');
  }
  if (cscdListLength + segmentListLength > CopyLimits.maxDescriptorListLength) {
    return reason('PARAMETER_LIST_LENGTH_ERROR');
  }
  // MAXIMUM INLINE DATA LENGTH is zero: no segment descriptor of ours takes inline data.
  if (inlineLength !== 0) return paramField(12);

  const cscdEnd = HEADER_LENGTH + cscdListLength;
  const cscdOffsets: number[] = [];
  for (let off = HEADER_LENGTH; off < cscdEnd; ) {
    const len = cscdLength(p[off]!);
    if (len === undefined)
      return reason('UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE', { field: { inCdb: false, byte: off } });
    if (off + len > cscdEnd) return paramField(2);
    cscdOffsets.push(off);
    off += len;
  }
  if (cscdOffsets.length > CopyLimits.maxCscdDescriptors) return reason('TOO_MANY_TARGET_DESCRIPTORS');

  const segEnd = cscdEnd + segmentListLength;
  const segOffsets: number[] = [];
  for (let off = cscdEnd; off < segEnd; ) {
    if (off + 4 > segEnd) return paramField(8);
    const len = 4 + p.readUInt16BE(off + 2);
    if (off + len > segEnd) return paramField(off + 2);
    segOffsets.push(off);
    off += len;
  }
  if (segOffsets.length > CopyLimits.maxSegmentDescriptors) return reason('TOO_MANY_SEGMENT_DESCRIPTORS');

  const cscds: Cscd[] = [];
  for (const off of cscdOffsets) {
    if (p[off] !== Descriptor.IDENTIFICATION) {
      return reason('UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE', { field: { inCdb: false, byte: off } });
    }
    // Byte 1 bits 7-5, SPC-3's LU ID TYPE and NUL, are obsolete in SPC-4 (our VERSION): ignored.
    if ((p[off + 1]! & 0x1f) !== PERIPHERAL_BLOCK) return paramField(off + 1, 4);
    const designatorLength = p[off + 7]!;
    if (designatorLength > 20) return paramField(off + 7);
    cscds.push({
      offset: off,
      designatorType: p[off + 5]! & 0x0f,
      association: (p[off + 5]! >> 4) & 0x03,
      designator: p.subarray(off + 8, off + 8 + designatorLength),
      blockLength: p.readUIntBE(off + 29, 3),
    });
  }

  const segments: Segment[] = [];
  for (const off of segOffsets) {
    if (p[off] !== Descriptor.BLOCK_TO_BLOCK) {
      return reason('UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE', { field: { inCdb: false, byte: off } });
    }
    if (p.readUInt16BE(off + 2) !== B2B_LENGTH - 4) return paramField(off + 2);
    segments.push({
      offset: off,
      destinationCounts: (p[off + 1]! & 0x02) !== 0,
      source: p.readUInt16BE(off + 4),
      destination: p.readUInt16BE(off + 6),
      blocks: p.readUInt16BE(off + 10),
      sourceLba: readU64(p, off + 12),
      destinationLba: readU64(p, off + 20),
    });
  }
  return { listId, usage: listIdUsage, cscds, segments };
}
