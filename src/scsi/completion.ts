import type { Logger } from '../util/logger.js';
import type { Completion, TransportCommand } from './command.js';
import { DEVICE_ERROR_SENSE, deviceErrorKind } from './device-sense.js';
import type { LogicalUnit } from './logical-unit.js';
import type { Outcome } from './opcode-table.js';
import { buildSense, isSenseReason, reason, type SenseReason } from './sense-reason.js';
import { ScsiStatus } from './spec/status.js';

/**
 * How a command ends: a handler's outcome, a sense reason or a failure inside the engine
 * becomes the Completion the transport sends.
 */

/** Device failures logged at most once per interval per kind (DeviceFailure.everyMs). */
class QuietLog {
  readonly #last = new Map<string, { at: number; skipped: number }>();

  /** -1: do not log now; else log, and this many were not logged since the last line. */
  check(kind: string, everyMs: number): number {
    const now = Date.now();
    const last = this.#last.get(kind);
    if (last && now - last.at < everyMs) {
      last.skipped++;
      return -1;
    }
    this.#last.set(kind, { at: now, skipped: 0 });
    return last?.skipped ?? 0;
  }
}
const quiet = new QuietLog();

/** Thrown inside a task when its abort signal fires: the task ends with no response. */
export class TaskAborted extends Error {}

/** A task that ended aborted: no response is sent for it. */
export function abortedCompletion(): Completion {
  return { status: ScsiStatus.TASK_ABORTED, transferLength: 0, aborted: true };
}

/** CHECK CONDITION with `r`, in the sense format the LU's control mode page asks for. */
export function checkCondition(r: SenseReason, lu: LogicalUnit | undefined): Completion {
  return {
    status: ScsiStatus.CHECK_CONDITION,
    sense: buildSense(r, lu?.mode.dSense ?? false),
    transferLength: 0,
  };
}

/** A handler's outcome as the completion; data beyond the ALLOCATION LENGTH is cut off. */
export function complete(
  lu: LogicalUnit | undefined,
  outcome: Outcome,
  allocationLength: number | undefined,
  outLen: number,
): Completion {
  if (outcome === undefined) return { status: ScsiStatus.GOOD, transferLength: outLen };
  if (isSenseReason(outcome)) return { ...checkCondition(outcome, lu), transferLength: outLen };
  if (outcome.sense) return { ...checkCondition(outcome.sense, lu), transferLength: outLen };
  let data = outcome.data;
  if (data && allocationLength !== undefined && data.length > allocationLength) {
    data = data.subarray(0, allocationLength);
  }
  const status = outcome.status ?? ScsiStatus.GOOD;
  if (data) {
    return outcome.release
      ? { status, data, transferLength: data.length, release: outcome.release }
      : { status, data, transferLength: data.length };
  }
  return { status, transferLength: outLen };
}

/**
 * A command that threw: a device error gets its sense from the one table (device-sense.ts);
 * anything else is an engine bug, INTERNAL TARGET FAILURE.
 */
export function internalFailure(
  log: Logger,
  cmd: TransportCommand,
  err: unknown,
  lu: LogicalUnit | undefined,
): Completion {
  const op = cmd.cdb[0]!.toString(16).padStart(2, '0');
  const kind = deviceErrorKind(err);
  if (kind !== undefined) {
    const { sense, log: level, msg, everyMs } = DEVICE_ERROR_SENSE[kind];
    const notLogged = everyMs === undefined ? 0 : quiet.check(kind, everyMs);
    if (notLogged >= 0)
      log[level]({ err, kind, opcode: op, lun: cmd.lun, ...(notLogged ? { notLogged } : {}) }, msg);
    return checkCondition(reason(sense), lu);
  }
  log.error({ err, opcode: op, lun: cmd.lun }, 'command failed inside the engine');
  return checkCondition(reason('INTERNAL_TARGET_FAILURE'), lu);
}
