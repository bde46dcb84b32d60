import { usage } from '../cdb.js';
import { defineRow, type Outcome } from '../opcode-table.js';
import { buildSense, reason } from '../sense-reason.js';
import { Opcode } from '../spec/opcodes.js';
import { ScsiStatus } from '../spec/status.js';
import { CopyLimits, ListIdUsage, MAX_PARAMETER_LIST, parseList } from './copy-list.js';
import { CopyManagerStatus, type CopyRecord, copiesOf } from './copy-records.js';
import { type CopyFailure, copySegment } from './copy-segment.js';

// Split by concept; importable from here as before.
export { CopyLimits } from './copy-list.js';
export {
  operatingParameters,
  receiveCopyData,
  receiveCopyFailureDetails,
  receiveCopyOperatingParameters,
  receiveCopyStatus,
} from './receive-copy-results.js';

/**
 * EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.18): the copy manager of an LU
 * copies blocks between LUs of this target (VMware's VAAI XCOPY). Supported: block→block
 * segment descriptors (02h) and identification CSCD descriptors (E4h) naming an LU by its
 * NAA designator (VPD 83h). No inline or held data, no stream devices, no ROD tokens (LID4).
 * Each segment moves as READs and WRITEs through the gate as the issuing I_T nexus
 * (ScsiTarget.copyManagerIo), never by touching a device.
 *   copy-list.ts       the parameter list: limits, descriptors, validation
 *   copy-segment.ts    one segment's READs and WRITEs, and what a failed one reports
 *   copy-records.ts    the copy manager's records per LU, I_T nexus and LIST IDENTIFIER
 *   receive-copy-results.ts  RECEIVE COPY RESULTS and OPERATING PARAMETERS
 * This file: the EXTENDED COPY command, tying them together.
 */

interface ExtendedCopyCdb {
  dataOutLength: number;
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
