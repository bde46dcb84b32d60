import { usage } from '../cdb.js';
import { defineRow, type ExecContext, type Outcome } from '../opcode-table.js';
import { reason, type SenseReason } from '../sense-reason.js';
import { Opcode, ServiceAction } from '../spec/opcodes.js';
import { CopyLimits, Descriptor } from './copy-list.js';
import { CopyManagerStatus, type CopyRecord, copiesOf } from './copy-records.js';

/** RECEIVE COPY RESULTS (SPC-4 6.18): what the copy manager holds of an I_T nexus's copies. */

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
