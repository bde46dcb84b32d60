import { readU64, usage } from '../cdb.js';
import type { Completion, ItNexus } from '../command.js';
import type { LuView } from '../lu-view.js';
import { defineRow, type ExecContext, type Outcome, type TargetView } from '../opcode-table.js';
import { buildSense, reason, type SenseReason, type SenseReasonName, SenseReasons } from '../sense-reason.js';
import { Opcode, ServiceAction } from '../spec/opcodes.js';
import { SenseKey } from '../spec/sense.js';
import { ScsiStatus } from '../spec/status.js';

/**
 * EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.18): the copy manager of an LU
 * copies blocks between LUs of this target (VMware's VAAI XCOPY). Supported: block→block
 * segment descriptors (02h) and identification CSCD descriptors (E4h) naming an LU by its
 * NAA designator (VPD 83h). No inline or held data, no stream devices, no ROD tokens (LID4).
 * Each segment moves as READs and WRITEs through the gate as the issuing I_T nexus
 * (ScsiTarget.copyManagerIo), never by touching a device.
 */

/** Limits reported by OPERATING PARAMETERS and enforced below. */
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
const Descriptor = {
  BLOCK_TO_BLOCK: 0x02,
  IDENTIFICATION: 0xe4,
} as const;

const HEADER_LENGTH = 16;
const B2B_LENGTH = 28;
const PERIPHERAL_BLOCK = 0x00;
/** Parameter lists beyond this are refused before any data-out is fetched. */
const MAX_PARAMETER_LIST = 64 * 1024;

/** LIST ID USAGE (SPC-4 Table 101). */
const ListIdUsage = { HOLD: 0b00, RESERVED: 0b01, NO_HOLD: 0b10, NO_LIST_ID: 0b11 } as const;

/** COPY MANAGER STATUS (SPC-4 6.18.2). */
const CopyManagerStatus = { IN_PROGRESS: 0x00, COMPLETED_GOOD: 0x01, COMPLETED_ERROR: 0x02 } as const;

interface CopyRecord {
  status: number;
  segmentsProcessed: number;
  bytesCopied: number;
  /** The failed copy's status and sense data, if any (FAILED SEGMENT DETAILS). */
  failure?: { readonly status: number; readonly sense: Buffer };
}

/** One I_T nexus's copy operations on one LU, by LIST IDENTIFIER. */
interface NexusCopies {
  /** The nexus object of the session that issued them: a new session starts afresh. */
  readonly nexus: ItNexus;
  readonly lists: Map<number, CopyRecord>;
}

/** Copy manager state per LU (RECEIVE COPY RESULTS must reach the LU the copy was sent to). */
const managers = new WeakMap<LuView, Map<string, NexusCopies>>();

/**
 * The nexus's copy operations, dropping those of sessions that are gone: list identifiers are
 * per I_T nexus (SPC-4 6.4.3.2) and nothing is held past the nexus's loss.
 */
function copiesOf(lu: LuView, nexus: ItNexus): NexusCopies {
  let m = managers.get(lu);
  if (!m) managers.set(lu, (m = new Map()));
  const known = new Set(lu.knownNexuses());
  for (const id of m.keys()) if (!known.has(id) && id !== nexus.id) m.delete(id);
  let c = m.get(nexus.id);
  if (!c || c.nexus !== nexus) m.set(nexus.id, (c = { nexus, lists: new Map() }));
  return c;
}

// ---- EXTENDED COPY --------------------------------------------------------------------------

interface ExtendedCopyCdb {
  dataOutLength: number;
}

const paramField = (byte: number, bit?: number): SenseReason =>
  reason('INVALID_FIELD_IN_PARAMETER_LIST', {
    field: bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit },
  });

interface Cscd {
  /** Offset of the descriptor in the parameter list. */
  readonly offset: number;
  readonly designatorType: number;
  readonly association: number;
  readonly designator: Buffer;
  readonly blockLength: number;
}

interface Segment {
  readonly offset: number;
  readonly source: number;
  readonly destination: number;
  readonly destinationCounts: boolean;
  readonly blocks: number;
  readonly sourceLba: number;
  readonly destinationLba: number;
}

interface CopyList {
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
function parseList(p: Buffer): CopyList | SenseReason {
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

/** A copy target: the LUN through which the issuing nexus reaches it, and the LU. */
interface CopyTarget {
  readonly lun: number;
  readonly lu: LuView;
}

/** The LU a CSCD descriptor names, among those this nexus can see; undefined: unreachable. */
function resolve(ctx: ExecContext, cscd: Cscd | undefined): CopyTarget | undefined {
  // SPC-4 6.4.5.3: only a logical unit designator (association 00b) can name a copy target.
  if (cscd?.association !== 0 || cscd.designatorType !== 0x3) return undefined;
  for (const lun of ctx.target.lunsFor(ctx.cmd)) {
    const lu = ctx.target.logicalUnit(lun);
    if (lu?.naa.equals(cscd.designator)) {
      return cscd.blockLength === 0 || cscd.blockLength === lu.blockSize ? { lun, lu } : undefined;
    }
  }
  return undefined;
}

type CopyAbortedReason = 'COPY_TARGET_DEVICE_NOT_REACHABLE' | 'COPY_ABORTED_NO_ADDITIONAL_SENSE_INFORMATION';
const copyAborted = (name: CopyAbortedReason, byte: number): SenseReason =>
  reason(name, { field: { inCdb: false, byte } });

/** Why a copy stopped: a sense reason (CHECK CONDITION) or a bare status (RESERVATION CONFLICT). */
type CopyFailure = SenseReason | { readonly status: number };

/** READ(16) / WRITE(16) (SBC-3 5.11, 5.35) of `blocks` at `lba`. */
function rw16(opcode: number, lba: number, blocks: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = opcode;
  b.writeBigUInt64BE(BigInt(lba), 2);
  b.writeUInt32BE(blocks, 10);
  return b;
}

/** The sense reason of encoded sense data (fixed or descriptor format), if it is one of ours. */
function reasonOf(sense: Buffer): SenseReason | undefined {
  const descriptor = (sense[0]! & 0x7f) >= 0x72;
  const key = (descriptor ? sense[1]! : sense[2]!) & 0x0f;
  const asc = descriptor ? sense[2] : sense[12];
  const ascq = descriptor ? sense[3] : sense[13];
  for (const [name, r] of Object.entries(SenseReasons)) {
    if (r.key === key && r.asc === asc && r.ascq === ascq) return reason(name as SenseReasonName);
  }
  return undefined;
}

/**
 * What the EXTENDED COPY reports when one of its READs or WRITEs did not succeed: what the
 * initiator would have got for the same command sent directly, except that a copy target this
 * node cannot reach now — the LU gone, or its port unable to do I/O (NOT READY: Standby,
 * Unavailable, Transitioning) — is COPY TARGET DEVICE NOT REACHABLE (SPC-4 6.4.4), with the
 * field pointer on the segment's CSCD index (`cscdByte`).
 */
function ioFailure(c: Completion, cscdByte: number): CopyFailure {
  // A forwarded READ or WRITE that may have run: the copy stopped in that segment (SPC-4 6.4.3).
  if (c.outcomeUnknown) return reason('THIRD_PARTY_DEVICE_FAILURE');
  if (c.status === ScsiStatus.CHECK_CONDITION && c.sense) {
    const r = reasonOf(c.sense);
    if (!r) return reason('THIRD_PARTY_DEVICE_FAILURE');
    if (r.name === 'LOGICAL_UNIT_NOT_SUPPORTED' || SenseReasons[r.name].key === SenseKey.NOT_READY) {
      return copyAborted('COPY_TARGET_DEVICE_NOT_REACHABLE', cscdByte);
    }
    return r;
  }
  // A reservation conflict, BUSY or TASK SET FULL: the initiator retries as it would the I/O.
  if (
    c.status === ScsiStatus.RESERVATION_CONFLICT ||
    c.status === ScsiStatus.BUSY ||
    c.status === ScsiStatus.TASK_SET_FULL
  ) {
    return { status: c.status };
  }
  // TASK ABORTED by a TMF or reset of the copy target's LU: the copy target failed under us.
  return reason('THIRD_PARTY_DEVICE_FAILURE');
}

/** Copies one segment in chunks; returns the failure, or undefined when done. */
async function copySegment(
  ctx: ExecContext,
  list: CopyList,
  s: Segment,
  rec: CopyRecord,
): Promise<CopyFailure | undefined> {
  const srcTarget = resolve(ctx, list.cscds[s.source]);
  if (!srcTarget) return copyAborted('COPY_TARGET_DEVICE_NOT_REACHABLE', s.offset + 4);
  const dstTarget = resolve(ctx, list.cscds[s.destination]);
  if (!dstTarget) return copyAborted('COPY_TARGET_DEVICE_NOT_REACHABLE', s.offset + 6);
  const src = srcTarget.lu;
  const dst = dstTarget.lu;
  // BLOCK DEVICE NUMBER OF BLOCKS counts destination blocks when DC is set (SPC-4 6.4.6.5).
  const bytes = s.blocks * (s.destinationCounts ? dst.blockSize : src.blockSize);
  if (bytes === 0) return undefined;
  if (bytes > CopyLimits.maxSegmentBytes) return paramField(s.offset + 10);
  if (bytes % src.blockSize !== 0 || bytes % dst.blockSize !== 0)
    return copyAborted('COPY_ABORTED_NO_ADDITIONAL_SENSE_INFORMATION', s.offset + 10);
  const srcStart = s.sourceLba * src.blockSize;
  const dstStart = s.destinationLba * dst.blockSize;
  if (s.sourceLba > src.blocks || srcStart + bytes > src.blocks * src.blockSize) {
    return copyAborted('COPY_ABORTED_NO_ADDITIONAL_SENSE_INFORMATION', s.offset + 12);
  }
  if (s.destinationLba > dst.blocks || dstStart + bytes > dst.blocks * dst.blockSize) {
    return copyAborted('COPY_ABORTED_NO_ADDITIONAL_SENSE_INFORMATION', s.offset + 20);
  }
  if (dst.writeProtected) return reason(dst.config.readOnly ? 'WRITE_PROTECTED' : 'SOFTWARE_WRITE_PROTECTED');
  // Overlap within one LU with the destination ahead of the source: copy back to front so
  // that every block is read before it is overwritten.
  const backwards = src === dst && dstStart > srcStart && dstStart < srcStart + bytes;
  // Every step is a READ and a WRITE through the gate as the issuing nexus (masking, ALUA and
  // forwarding, reservations, the range lock, replication): never a device touched directly.
  const target = ctx.target;
  const io: NonNullable<TargetView['copyManagerIo']> = (...args) => target.copyManagerIo!(...args);
  const chunk = CopyLimits.chunkBytes;
  const steps = Math.ceil(bytes / chunk);
  for (let i = 0; i < steps; i++) {
    if (ctx.cmd.signal.aborted) return undefined;
    const k = backwards ? steps - 1 - i : i;
    const off = k * chunk;
    const len = Math.min(chunk, bytes - off);
    const r = await io(
      ctx.cmd,
      srcTarget.lun,
      rw16(Opcode.READ_16, (srcStart + off) / src.blockSize, len / src.blockSize),
      {
        readLength: len,
      },
    );
    if (ctx.cmd.signal.aborted) return undefined;
    if (r.status !== ScsiStatus.GOOD) return ioFailure(r, s.offset + 4);
    if (r.data?.length !== len) return reason('THIRD_PARTY_DEVICE_FAILURE');
    // The read's buffer becomes the write's data-out; the WRITE hands it back to the pool.
    const w = await io(
      ctx.cmd,
      dstTarget.lun,
      rw16(Opcode.WRITE_16, (dstStart + off) / dst.blockSize, len / dst.blockSize),
      { dataOut: r.data },
    );
    if (ctx.cmd.signal.aborted) return undefined;
    if (w.status !== ScsiStatus.GOOD) return ioFailure(w, s.offset + 6);
    rec.bytesCopied += len;
  }
  return undefined;
}

export const extendedCopy = defineRow<ExtendedCopyCdb>({
  name: 'EXTENDED COPY(LID1)',
  opcode: Opcode.EXTENDED_COPY,
  serviceAction: 0x00,
  cdbLength: 16,
  usage: usage(0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00),
  direction: 'out',
  // The ranges are in the parameter list, on any LU of the target: each write is locked alone.
  writes: 'per-write',
  // A copy may move CopyLimits.maxSegmentDescriptors × maxSegmentBytes (1 GiB).
  timeout: { nominal: 5, recommended: 120 },
  parse(cdb) {
    const length = cdb.readUInt32BE(10);
    if (length > MAX_PARAMETER_LIST) return reason('PARAMETER_LIST_LENGTH_ERROR');
    return { dataOutLength: length };
  },
  async execute(ctx, p): Promise<Outcome> {
    // SPC-4 6.4.1: a PARAMETER LIST LENGTH of zero is not an error; nothing happens.
    if (p.dataOutLength === 0) return undefined;
    const list = parseList(ctx.dataOut);
    if ('name' in list) return list;
    const lu = ctx.lu!;
    const copies = copiesOf(lu, ctx.cmd.nexus);
    const tracked = list.usage !== ListIdUsage.NO_LIST_ID;
    if (tracked) {
      const prev = copies.lists.get(list.listId);
      if (prev?.status === CopyManagerStatus.IN_PROGRESS) return reason('OPERATION_IN_PROGRESS');
      copies.lists.delete(list.listId);
      if (copies.lists.size >= CopyLimits.maxConcurrentCopies) {
        // Make room by dropping the oldest finished operation; if all run, refuse.
        const done = [...copies.lists].find(([, r]) => r.status !== CopyManagerStatus.IN_PROGRESS);
        if (!done) return reason('INSUFFICIENT_RESOURCES');
        copies.lists.delete(done[0]);
      }
    }
    const rec: CopyRecord = { status: CopyManagerStatus.IN_PROGRESS, segmentsProcessed: 0, bytesCopied: 0 };
    if (tracked) copies.lists.set(list.listId, rec);
    let failure: CopyFailure | undefined;
    try {
      for (const s of list.segments) {
        failure = await copySegment(ctx, list, s, rec);
        if (failure || ctx.cmd.signal.aborted) break;
        rec.segmentsProcessed++;
      }
    } catch (err) {
      // A backing-store error: the copy target failed under us (SPC-4 6.4.4).
      rec.status = CopyManagerStatus.COMPLETED_ERROR;
      rec.failure = {
        status: ScsiStatus.CHECK_CONDITION,
        sense: buildSense(reason('THIRD_PARTY_DEVICE_FAILURE'), lu.mode.dSense),
      };
      if (tracked && list.usage !== ListIdUsage.HOLD) copies.lists.delete(list.listId);
      throw err;
    }
    if (ctx.cmd.signal.aborted) {
      // An aborted copy reports nothing: its list identifier is free again.
      if (tracked) copies.lists.delete(list.listId);
      return undefined;
    }
    if (failure) {
      rec.status = CopyManagerStatus.COMPLETED_ERROR;
      rec.failure =
        'name' in failure
          ? { status: ScsiStatus.CHECK_CONDITION, sense: buildSense(failure, lu.mode.dSense) }
          : { status: failure.status, sense: Buffer.alloc(0) };
    } else {
      rec.status = CopyManagerStatus.COMPLETED_GOOD;
    }
    // Only LIST ID USAGE 00b holds results for RECEIVE COPY RESULTS (SPC-4 Table 101).
    if (tracked && list.usage !== ListIdUsage.HOLD) copies.lists.delete(list.listId);
    if (failure && !('name' in failure)) return { status: failure.status };
    return failure;
  },
});

// ---- RECEIVE COPY RESULTS -------------------------------------------------------------------

interface ReceiveCopyResultsCdb {
  listId: number;
  allocationLength: number;
}

function rcrRow(
  name: string,
  serviceAction: number,
  build: (ctx: ExecContext, p: ReceiveCopyResultsCdb) => Outcome,
) {
  return defineRow<ReceiveCopyResultsCdb>({
    name,
    opcode: Opcode.RECEIVE_COPY_RESULTS,
    serviceAction,
    cdbLength: 16,
    usage: usage(0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00),
    direction: 'in',
    parse: (cdb) => ({ listId: cdb[2]!, allocationLength: cdb.readUInt32BE(10) }),
    execute: build,
  });
}

/** The held record for LIST IDENTIFIER, or INVALID FIELD IN CDB naming it (SPC-4 6.18.1). */
function held(ctx: ExecContext, listId: number): CopyRecord | SenseReason {
  const rec = copiesOf(ctx.lu!, ctx.cmd.nexus).lists.get(listId);
  return rec ?? reason('INVALID_FIELD_IN_CDB', { field: { inCdb: true, byte: 2 } });
}

export const receiveCopyStatus = rcrRow(
  'RECEIVE COPY RESULTS(COPY STATUS)',
  ServiceAction.COPY_STATUS,
  (ctx, p) => {
    const rec = held(ctx, p.listId);
    if ('name' in rec) return rec;
    const b = Buffer.alloc(12);
    b.writeUInt32BE(8, 0); // AVAILABLE DATA
    b[4] = rec.status; // HDD 0: we never hold data to discard
    b.writeUInt16BE(Math.min(rec.segmentsProcessed, 0xffff), 5);
    // TRANSFER COUNT UNITS: bytes while they fit in 32 bits, else kibibytes (01h).
    const kib = rec.bytesCopied > 0xffffffff;
    b[7] = kib ? 0x01 : 0x00;
    b.writeUInt32BE(kib ? Math.floor(rec.bytesCopied / 1024) : rec.bytesCopied, 8);
    // SPC-4 6.18.2: the status of a completed copy is discarded once reported (a failed one
    // stays until FAILED SEGMENT DETAILS reports it).
    if (rec.status === CopyManagerStatus.COMPLETED_GOOD && p.allocationLength >= b.length) {
      copiesOf(ctx.lu!, ctx.cmd.nexus).lists.delete(p.listId);
    }
    return { data: b };
  },
);

export const receiveCopyData = rcrRow(
  'RECEIVE COPY RESULTS(RECEIVE DATA)',
  ServiceAction.RECEIVE_DATA,
  (ctx, p) => {
    const rec = held(ctx, p.listId);
    if ('name' in rec) return rec;
    // No segment descriptor type we offer holds data: AVAILABLE DATA is zero (SPC-4 6.18.3).
    return { data: Buffer.alloc(4) };
  },
);

/** OPERATING PARAMETERS data (SPC-4 6.18.4). */
export function operatingParameters(): Buffer {
  const codes = [Descriptor.BLOCK_TO_BLOCK, Descriptor.IDENTIFICATION];
  const b = Buffer.alloc(44 + codes.length);
  b.writeUInt32BE(b.length - 4, 0); // AVAILABLE DATA
  b[4] = 0x01; // SNLID: LIST ID USAGE 11b is supported
  b.writeUInt16BE(CopyLimits.maxCscdDescriptors, 8);
  b.writeUInt16BE(CopyLimits.maxSegmentDescriptors, 10);
  b.writeUInt32BE(CopyLimits.maxDescriptorListLength, 12);
  b.writeUInt32BE(CopyLimits.maxSegmentBytes, 16);
  // MAXIMUM INLINE DATA LENGTH, HELD DATA LIMIT, MAXIMUM STREAM DEVICE TRANSFER SIZE: 0.
  b.writeUInt16BE(CopyLimits.maxConcurrentCopies, 34); // TOTAL CONCURRENT COPIES
  b[36] = CopyLimits.maxConcurrentCopies; // MAXIMUM CONCURRENT COPIES
  b[37] = 9; // DATA SEGMENT GRANULARITY: 2^9, the smallest logical block
  b[43] = codes.length; // IMPLEMENTED DESCRIPTOR LIST LENGTH
  Buffer.from(codes).copy(b, 44);
  return b;
}

export const receiveCopyOperatingParameters = rcrRow(
  'RECEIVE COPY RESULTS(OPERATING PARAMETERS)',
  ServiceAction.OPERATING_PARAMETERS,
  () => ({ data: operatingParameters() }),
);

export const receiveCopyFailureDetails = rcrRow(
  'RECEIVE COPY RESULTS(FAILED SEGMENT DETAILS)',
  ServiceAction.FAILED_SEGMENT_DETAILS,
  (ctx, p) => {
    const rec = held(ctx, p.listId);
    if ('name' in rec) return rec;
    // SPC-4 6.18.5: while the copy runs, or when it succeeded, there is nothing to report.
    const failure = rec.failure;
    if (!failure) return { data: Buffer.alloc(4) };
    const b = Buffer.alloc(60 + failure.sense.length);
    b.writeUInt32BE(b.length - 4, 0); // AVAILABLE DATA
    b[56] = failure.status; // COPY COMMAND STATUS
    b.writeUInt16BE(failure.sense.length, 58); // SENSE DATA LENGTH
    failure.sense.copy(b, 60);
    if (p.allocationLength >= b.length) copiesOf(ctx.lu!, ctx.cmd.nexus).lists.delete(p.listId);
    return { data: b };
  },
);
