import type { Completion } from '../command.js';
import type { LuView } from '../lu-view.js';
import type { ExecContext, TargetView } from '../opcode-table.js';
import { reason, type SenseReason, type SenseReasonName, SenseReasons } from '../sense-reason.js';
import { Opcode } from '../spec/opcodes.js';
import { SenseKey } from '../spec/sense.js';
import { ScsiStatus } from '../spec/status.js';
import { CopyLimits, type CopyList, type Cscd, paramField, type Segment } from './copy-list.js';
import type { CopyRecord } from './copy-records.js';

/**
 * One segment of an EXTENDED COPY (SPC-4 6.4.6.5, block → block): its copy targets resolved
 * among the LUs the issuing nexus can see, then moved in chunks as READs and WRITEs through
 * the gate (ScsiTarget.copyManagerIo), and a failed I/O mapped to what the copy reports.
 */

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
export type CopyFailure = SenseReason | { readonly status: number };

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
export async function copySegment(
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
