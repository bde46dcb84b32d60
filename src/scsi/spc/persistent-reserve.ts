import { usage } from '../cdb.js';
import { defineRow, type OpcodeRow, type Outcome } from '../opcode-table.js';
import { nexusIdentity } from '../pr/lu-reservations.js';
import {
  decodeProutParameters,
  MAX_PROUT_PARAMETER_LIST,
  PROUT_BASIC_LENGTH,
  type ProutCdb,
} from '../pr/parameters.js';
import { PrinServiceAction, type PrinServiceActionCode } from '../pr/prin.js';
import { ProutServiceAction, type ProutServiceActionCode } from '../pr/prout.js';
import type { PrOutcome } from '../pr/result.js';
import { isPrType, PR_SCOPE_LU } from '../pr/state.js';
import { isSenseReason, reason } from '../sense-reason.js';
import { Opcode } from '../spec/opcodes.js';
import { ScsiStatus } from '../spec/status.js';

/** The state machine's answer as a handler outcome. */
export function prOutcome(o: PrOutcome): Outcome {
  if (o.sense) return o.sense;
  if (o.status === ScsiStatus.GOOD) return o.data ? { data: o.data } : undefined;
  return { status: o.status };
}

interface PrinCdb {
  readonly allocationLength: number;
}

/** PERSISTENT RESERVE IN (SPC-4 6.15): one row per service action, so RSOC lists each. */
function prinRow(name: string, sa: PrinServiceActionCode): OpcodeRow<PrinCdb> {
  return defineRow<PrinCdb>({
    name: `PERSISTENT RESERVE IN ${name}`,
    opcode: Opcode.PERSISTENT_RESERVE_IN,
    serviceAction: sa,
    cdbLength: 10,
    usage: usage(0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00),
    direction: 'in',
    timeout: { nominal: 1, recommended: 5 },
    parse: (cdb) => ({ allocationLength: cdb.readUInt16BE(7) }),
    execute: (ctx) => ({ data: ctx.lu!.reservations.persistentReserveIn(sa) }),
  });
}

export const prinReadKeys = prinRow('READ KEYS', PrinServiceAction.READ_KEYS);
export const prinReadReservation = prinRow('READ RESERVATION', PrinServiceAction.READ_RESERVATION);
export const prinReportCapabilities = prinRow('REPORT CAPABILITIES', PrinServiceAction.REPORT_CAPABILITIES);
export const prinReadFullStatus = prinRow('READ FULL STATUS', PrinServiceAction.READ_FULL_STATUS);

interface ProutParsed extends ProutCdb {
  readonly dataOutLength: number;
}

/**
 * PERSISTENT RESERVE OUT (SPC-4 6.16): the CDB is checked here, the parameter list decoded
 * once it has arrived, and the state machine (src/scsi/pr) decides.
 */
function proutRow(name: string, sa: ProutServiceActionCode): OpcodeRow<ProutParsed> {
  return defineRow<ProutParsed>({
    name: `PERSISTENT RESERVE OUT ${name}`,
    opcode: Opcode.PERSISTENT_RESERVE_OUT,
    serviceAction: sa,
    cdbLength: 10,
    usage: usage(0x1f, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00),
    direction: 'out',
    timeout: { nominal: 1, recommended: 10 },
    parse(cdb) {
      const scope = cdb[2]! >> 4;
      const type = cdb[2]! & 0x0f;
      // RESERVE uses SCOPE and TYPE whatever the state: check them before any data moves.
      if (sa === ProutServiceAction.RESERVE && scope !== PR_SCOPE_LU) {
        return reason('INVALID_FIELD_IN_CDB', { field: { inCdb: true, byte: 2, bit: 7 } });
      }
      if (sa === ProutServiceAction.RESERVE && !isPrType(type)) {
        return reason('INVALID_FIELD_IN_CDB', { field: { inCdb: true, byte: 2, bit: 3 } });
      }
      const parameterListLength = cdb.readUInt32BE(5);
      if (parameterListLength < PROUT_BASIC_LENGTH || parameterListLength > MAX_PROUT_PARAMETER_LIST) {
        return reason('PARAMETER_LIST_LENGTH_ERROR');
      }
      return { serviceAction: sa, scope, type, parameterListLength, dataOutLength: parameterListLength };
    },
    async execute(ctx, p) {
      const req = decodeProutParameters(p, ctx.dataOut, nexusIdentity(ctx.cmd.nexus));
      if (isSenseReason(req)) return req;
      return prOutcome(await ctx.lu!.reservations.persistentReserveOut(ctx.cmd, req));
    },
  });
}

export const proutRegister = proutRow('REGISTER', ProutServiceAction.REGISTER);
export const proutReserve = proutRow('RESERVE', ProutServiceAction.RESERVE);
export const proutRelease = proutRow('RELEASE', ProutServiceAction.RELEASE);
export const proutClear = proutRow('CLEAR', ProutServiceAction.CLEAR);
export const proutPreempt = proutRow('PREEMPT', ProutServiceAction.PREEMPT);
export const proutPreemptAndAbort = proutRow('PREEMPT AND ABORT', ProutServiceAction.PREEMPT_AND_ABORT);
export const proutRegisterAndIgnoreExistingKey = proutRow(
  'REGISTER AND IGNORE EXISTING KEY',
  ProutServiceAction.REGISTER_AND_IGNORE_EXISTING_KEY,
);
export const proutRegisterAndMove = proutRow('REGISTER AND MOVE', ProutServiceAction.REGISTER_AND_MOVE);

/** Every PERSISTENT RESERVE IN/OUT row, for the opcode table. */
export const persistentReserveRows = [
  prinReadKeys,
  prinReadReservation,
  prinReportCapabilities,
  prinReadFullStatus,
  proutRegister,
  proutReserve,
  proutRelease,
  proutClear,
  proutPreempt,
  proutPreemptAndAbort,
  proutRegisterAndIgnoreExistingKey,
  proutRegisterAndMove,
] as const;
