import { invalidField, usage } from '../cdb.js';
import { TmfFunction, type TmfFunctionCode } from '../command.js';
import { type AnyOpcodeRow, defineRow, type OpcodeTable } from '../opcode-table.js';
import { reason } from '../sense-reason.js';
import { Opcode, ServiceAction } from '../spec/opcodes.js';

/**
 * REPORT SUPPORTED OPERATION CODES and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS
 * (SPC-4 6.35, 6.37). Both are generated: the first from the very OpcodeTable the dispatcher
 * uses, the second from SUPPORTED_TMFS, which a unit test holds equal to what
 * ScsiTarget.taskManagement() accepts.
 */

/** Command timeouts in seconds (SPC-4 6.35.4). */
export interface CommandTimeouts {
  readonly nominal: number;
  readonly recommended: number;
}

/**
 * For rows that carry no `timeout` of their own: no command of ours takes long in the normal
 * case (a transfer is at most Limits.maxTransferBytes), and 30 s is the initiators' own
 * default (Linux sd, libiscsi); medium writes get more room for a slow backing store's flush.
 */
export const DEFAULT_TIMEOUTS: CommandTimeouts = { nominal: 1, recommended: 30 };
const DEFAULT_MEDIUM_WRITE_TIMEOUTS: CommandTimeouts = { nominal: 1, recommended: 60 };

export function commandTimeouts(row: AnyOpcodeRow): CommandTimeouts {
  return row.timeout ?? (row.writesMedium ? DEFAULT_MEDIUM_WRITE_TIMEOUTS : DEFAULT_TIMEOUTS);
}

/** Command timeouts descriptor (SPC-4 6.35.4): 12 bytes, DESCRIPTOR LENGTH 0Ah. */
function timeoutsDescriptor(row: AnyOpcodeRow): Buffer {
  const t = commandTimeouts(row);
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0x0a, 0);
  // Byte 3, COMMAND SPECIFIC: zero for every command we offer.
  b.writeUInt32BE(t.nominal, 4);
  b.writeUInt32BE(t.recommended, 8);
  return b;
}

/**
 * CDB usage data (SPC-4 6.35.3): byte 0 is the operation code, the service action sits where
 * the CDB carries it (byte 1 bits 4-0, serviceActionOf()), every other bit is the row's mask.
 */
export function cdbUsageData(row: AnyOpcodeRow): Buffer {
  const b = Buffer.from(row.usage);
  b[0] = row.opcode;
  if (row.serviceAction !== undefined) b[1] = (b[1]! & ~0x1f) | row.serviceAction;
  return b;
}

/** All-commands parameter data (SPC-4 6.35.2): one command descriptor per row. */
function allCommands(table: OpcodeTable, rctd: boolean): Buffer {
  const descs = table.rows().map((row) => {
    const d = Buffer.alloc(8);
    d[0] = row.opcode;
    d.writeUInt16BE(row.serviceAction ?? 0, 2);
    d[5] = (rctd ? 0x02 : 0) | (row.serviceAction !== undefined ? 0x01 : 0); // CTDP, SERVACTV
    d.writeUInt16BE(row.cdbLength, 6);
    return rctd ? Buffer.concat([d, timeoutsDescriptor(row)]) : d;
  });
  const body = Buffer.concat(descs);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** SUPPORT field values (SPC-4 6.35.3). */
const Support = { NOT_SUPPORTED: 0b001, STANDARD: 0b011 } as const;

/** One-command parameter data (SPC-4 6.35.3). */
function oneCommand(row: AnyOpcodeRow | undefined, rctd: boolean): Buffer {
  if (!row) {
    const b = Buffer.alloc(4);
    b[1] = Support.NOT_SUPPORTED;
    return b;
  }
  const head = Buffer.alloc(4);
  head[1] = (rctd ? 0x80 : 0) | Support.STANDARD;
  head.writeUInt16BE(row.cdbLength, 2);
  const parts = [head, cdbUsageData(row)];
  if (rctd) parts.push(timeoutsDescriptor(row));
  return Buffer.concat(parts);
}

/** REPORTING OPTIONS (SPC-4 Table 288). */
const ReportingOptions = {
  ALL: 0b000,
  OPCODE: 0b001,
  OPCODE_AND_SERVICE_ACTION: 0b010,
  OPCODE_AND_SERVICE_ACTION_IF_ANY: 0b011,
} as const;

interface RsocCdb {
  rctd: boolean;
  options: number;
  opcode: number;
  serviceAction: number;
  allocationLength: number;
}

export const reportSupportedOperationCodes = defineRow<RsocCdb>({
  name: 'REPORT SUPPORTED OPERATION CODES',
  opcode: Opcode.MAINTENANCE_IN,
  serviceAction: ServiceAction.REPORT_SUPPORTED_OPERATION_CODES,
  cdbLength: 12,
  usage: usage(0x1f, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00),
  direction: 'in',
  parse(cdb) {
    const options = cdb[2]! & 0x07;
    if (options > ReportingOptions.OPCODE_AND_SERVICE_ACTION_IF_ANY) return invalidField(2, 2);
    return {
      rctd: (cdb[2]! & 0x80) !== 0,
      options,
      opcode: cdb[3]!,
      serviceAction: cdb.readUInt16BE(4),
      allocationLength: cdb.readUInt32BE(6),
    };
  },
  execute(ctx, p) {
    const table = ctx.target.opcodeTable;
    if (!table) return reason('INVALID_COMMAND_OPERATION_CODE');
    if (p.options === ReportingOptions.ALL) return { data: allCommands(table, p.rctd) };
    const hasSa = table.usesServiceAction(p.opcode);
    // SPC-4 6.35.1: 001b names an opcode without service actions, 010b one with them; the
    // other kind is INVALID FIELD IN CDB. 011b takes either (SPC-4 r37).
    if (p.options === ReportingOptions.OPCODE && hasSa) return invalidField(2, 2);
    if (p.options === ReportingOptions.OPCODE_AND_SERVICE_ACTION && !hasSa && table.hasOpcode(p.opcode)) {
      return invalidField(2, 2);
    }
    const row = hasSa
      ? p.serviceAction <= 0x1f
        ? table.row(p.opcode, p.serviceAction)
        : undefined
      : table.row(p.opcode);
    return { data: oneCommand(row, p.rctd) };
  },
});

// ---- task management functions ----------------------------------------------------------------

/** A task management function we perform, with its REPORT SUPPORTED TMF bits (SPC-4 6.37). */
interface TmfSupport {
  readonly fn: TmfFunctionCode;
  /** Byte and bit of its "supported" flag in the parameter data. */
  readonly byte: number;
  readonly bit: number;
  /** Bit of its timeout selector in byte 6/7 (set: the short timeout applies). */
  readonly shortTimeout: boolean;
}

/**
 * The TMFs ScsiTarget.taskManagement() performs (test/unit/spc-extra checks the two agree).
 * TARGET WARM RESET and TARGET COLD RESET are iSCSI's forms of SAM's TARGET RESET (TRS).
 * ABORT TASK touches one task: the short timeout; the others wait for whole task sets.
 */
export const SUPPORTED_TMFS: readonly TmfSupport[] = [
  { fn: TmfFunction.ABORT_TASK, byte: 0, bit: 7, shortTimeout: true },
  { fn: TmfFunction.ABORT_TASK_SET, byte: 0, bit: 6, shortTimeout: false },
  { fn: TmfFunction.CLEAR_TASK_SET, byte: 0, bit: 4, shortTimeout: false },
  { fn: TmfFunction.LOGICAL_UNIT_RESET, byte: 0, bit: 3, shortTimeout: false },
  { fn: TmfFunction.TARGET_WARM_RESET, byte: 0, bit: 1, shortTimeout: false },
  { fn: TmfFunction.TARGET_COLD_RESET, byte: 0, bit: 1, shortTimeout: false },
];

/** TMF timeouts in units of 100 ms (SPC-4 6.37.2). */
export const TMF_SHORT_TIMEOUT_100MS = 100; // 10 s
export const TMF_LONG_TIMEOUT_100MS = 300; // 30 s

/** Parameter data (SPC-4 6.37.2); with REPD the 16-byte form carrying the TMF timeouts. */
function tmfParameterData(extended: boolean): Buffer {
  const b = Buffer.alloc(extended ? 16 : 4);
  for (const t of SUPPORTED_TMFS) b[t.byte] = b[t.byte]! | (1 << t.bit);
  if (!extended) return b;
  b[3] = 0x0c; // ADDITIONAL DATA LENGTH
  b[4] = 0x01; // TMFTMOV: the timeouts below are valid
  for (const t of SUPPORTED_TMFS) {
    // ATTS..QTTS in byte 6 line up with ATS..QTS in byte 0 (QUAS/QTSS/ITNRS: byte 7, byte 1).
    if (t.shortTimeout && t.bit >= 2) b[6 + t.byte] = b[6 + t.byte]! | (1 << t.bit);
  }
  b.writeUInt32BE(TMF_LONG_TIMEOUT_100MS, 8);
  b.writeUInt32BE(TMF_SHORT_TIMEOUT_100MS, 12);
  return b;
}

interface RstmfCdb {
  repd: boolean;
  allocationLength: number;
}

export const reportSupportedTaskManagementFunctions = defineRow<RstmfCdb>({
  name: 'REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS',
  opcode: Opcode.MAINTENANCE_IN,
  serviceAction: ServiceAction.REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS,
  cdbLength: 12,
  usage: usage(0x1f, 0x80, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00),
  direction: 'in',
  parse(cdb) {
    const allocationLength = cdb.readUInt32BE(6);
    // SPC-4 6.37.1: an ALLOCATION LENGTH below 4 is INVALID FIELD IN CDB.
    if (allocationLength < 4) return invalidField(6);
    return { repd: (cdb[2]! & 0x80) !== 0, allocationLength };
  },
  execute: (_ctx, p) => ({ data: tmfParameterData(p.repd) }),
});
