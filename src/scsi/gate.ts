import type { Logger } from '../util/logger.js';
import { aluaDisposition, isMediaCommand } from './alua.js';
import type { LbaRange } from './cdb.js';
import type { Completion, TransportCommand } from './command.js';
import { abortedCompletion, checkCondition, complete, internalFailure, TaskAborted } from './completion.js';
import { CopyManagerCommand } from './copy-manager-command.js';
import type { LogicalUnit } from './logical-unit.js';
import { Medium } from './medium.js';
import type { CommandObserver } from './observer.js';
import type {
  AnyOpcodeRow,
  ExecContext,
  OpcodeTable,
  Outcome,
  ParsedCdb,
  TargetView,
} from './opcode-table.js';
import { isSenseReason, reason, type SenseReason } from './sense-reason.js';
import { ScsiStatus, TaskAttribute } from './spec/status.js';
import type { Task } from './task-set.js';

const EMPTY = Buffer.alloc(0);

/** The rows that run without an LU (INQUIRY, REPORT LUNS, REQUEST SENSE) change no medium. */
const NO_LU_MEDIUM = new Medium(undefined, 'none');

export interface GateDeps {
  readonly table: OpcodeTable;
  readonly log: Logger;
  /** The target as handlers see it (ExecContext.target). */
  readonly target: TargetView;
  /** Told of the queue stage; read per command (the composition root sets it late). */
  observer(): CommandObserver | undefined;
  /** Active/Non-optimized: hand the command to the volume's primary (forward-path.ts). */
  forward(cmd: TransportCommand, lu: LogicalUnit, row: AnyOpcodeRow): Promise<Completion>;
}

/**
 * The one gate every command passes (STYLE.md: LUN exists → unit attention → ALUA →
 * reservation → parse CDB → execute), then the range lock and the handler.
 */
export class CommandGate {
  readonly #d: GateDeps;

  constructor(deps: GateDeps) {
    this.#d = deps;
  }

  /**
   * Runs `cmd` on `lu` in its task set. `forwarded`: another node's command, executed here as
   * the primary. `t0`: performance.now() at the hand-over when the queue stage is observed,
   * else 0.
   */
  async executeOn(
    cmd: TransportCommand,
    lu: LogicalUnit,
    forwarded: boolean,
    t0: number,
  ): Promise<Completion> {
    const { task, result } = lu.taskSet.run(cmd, (t) => {
      if (t0 > 0) this.#d.observer()?.stage(cmd.lun, 'queue', (performance.now() - t0) / 1000);
      return this.#gate(cmd, lu, t, forwarded);
    });
    try {
      const c = await result;
      return task.aborted || c.aborted ? abortedCompletion() : c;
    } catch (err) {
      if (task.aborted || err instanceof TaskAborted || cmd.signal.aborted) {
        return abortedCompletion();
      }
      return internalFailure(this.#d.log, cmd, err, lu);
    }
  }

  /** Commands to a LUN that does not exist (SPC-4 4.6.23): only the noLun rows answer. */
  async executeWithoutLu(cmd: TransportCommand): Promise<Completion> {
    const row = this.#d.table.lookup(cmd.cdb);
    if (typeof row === 'string' || !row.noLun) {
      return checkCondition(reason('LOGICAL_UNIT_NOT_SUPPORTED'), undefined);
    }
    try {
      return await this.#run(cmd, undefined, row);
    } catch (err) {
      return internalFailure(this.#d.log, cmd, err, undefined);
    }
  }

  async #gate(cmd: TransportCommand, lu: LogicalUnit, _task: Task, forwarded: boolean): Promise<Completion> {
    if (cmd.signal.aborted) throw new TaskAborted();
    if (cmd.attribute === TaskAttribute.ACA) {
      // NormACA = 0 in our INQUIRY data: the ACA attribute is not supported (SAM-5 5.9.1).
      return checkCondition(reason('INVALID_MESSAGE_ERROR'), lu);
    }
    const row = this.#d.table.lookup(cmd.cdb);
    // Unit attention comes before the opcode check: even an unsupported command reports it.
    // The copy manager's I/O leaves the unit attentions to the initiator's own commands.
    const ownCommand = !forwarded && !(cmd instanceof CopyManagerCommand);
    if (ownCommand && (typeof row === 'string' || !row.skipsUnitAttention)) {
      const ua = lu.unitAttentions.take(cmd.nexus.id);
      if (ua) return checkCondition(ua, lu);
    }
    if (typeof row === 'string')
      return checkCondition(
        reason(row, { field: { inCdb: true, byte: row === 'INVALID_FIELD_IN_CDB' ? 1 : 0 } }),
        lu,
      );
    // ALUA (SPC-4 5.15.2.4): the state's rules come from src/scsi/alua.ts's table.
    const access = lu.access;
    let forward = false;
    if (access) {
      const state = access.state();
      if (forwarded) {
        // Only the primary executes forwarded commands; anything else is a role change.
        if (state !== 'active-optimized') {
          return checkCondition(reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION'), lu);
        }
      } else {
        const d = aluaDisposition(state, row);
        if (d.action === 'refuse') return checkCondition(reason(d.sense), lu);
        forward = d.action === 'forward';
      }
    }
    // Reservation conflict (SPC-4 5.13.1 Table 43, SPC-2 5.5.1) from src/scsi/pr's table: after
    // the ALUA step, before the CDB is parsed; no data-out is requested for a conflicting command.
    // A forwarding node checks too (every node has applied the same state, rule 7), so that a
    // conflicting write asks for no data; the primary's check is the one that decides.
    if (lu.reservations.conflicts(cmd.nexus, row, cmd.cdb)) {
      return { status: ScsiStatus.RESERVATION_CONFLICT, transferLength: 0 };
    }
    if (forward) return this.#d.forward(cmd, lu, row);
    return this.#run(cmd, lu, row);
  }

  async #run(cmd: TransportCommand, lu: LogicalUnit | undefined, row: AnyOpcodeRow): Promise<Completion> {
    const bad = checkUsage(cmd.cdb, row);
    if (bad) return checkCondition(bad, lu);
    if (row.writesMedium && lu?.writeProtected) {
      return checkCondition(reason(lu.config.readOnly ? 'WRITE_PROTECTED' : 'SOFTWARE_WRITE_PROTECTED'), lu);
    }
    const asked = row.parse(cmd.cdb, lu);
    if (isSenseReason(asked)) return checkCondition(asked, lu);
    const outLen: number = asked.dataOutLength ?? 0;
    const parsed = fitToEdtl(cmd, lu, row, asked);
    if (!parsed) {
      return {
        ...checkCondition(reason('INVALID_FIELD_IN_COMMAND_INFORMATION_UNIT'), lu),
        transferLength: outLen,
      };
    }
    const fetch = parsed.dataOutLength ?? 0;
    let dataOut: Buffer = EMPTY;
    if (fetch > 0) {
      const got = await receiveDataOut(cmd, fetch, lu, this.#d.log);
      if (!Buffer.isBuffer(got)) return got;
      dataOut = got;
    }
    if (!lu) return this.#execute(cmd, lu, row, parsed, dataOut, NO_LU_MEDIUM, outLen);
    // Safety rule 5, in one place: the range the row declares is locked over its execution;
    // overlapping writes run in arrival order, the others concurrently.
    const writes = row.writes;
    if (typeof writes !== 'function') {
      return this.#execute(cmd, lu, row, parsed, dataOut, lu.medium(writes ?? 'none'), outLen);
    }
    const range: LbaRange = writes(parsed);
    if (range.blocks === 0) return this.#execute(cmd, lu, row, parsed, dataOut, lu.medium(range), outLen);
    const release = await lu.rangeLock.acquire(range.lba, range.blocks);
    try {
      return await this.#execute(cmd, lu, row, parsed, dataOut, lu.medium(range), outLen);
    } finally {
      release();
    }
  }

  async #execute(
    cmd: TransportCommand,
    lu: LogicalUnit | undefined,
    row: AnyOpcodeRow,
    parsed: ParsedCdb,
    dataOut: Buffer,
    medium: Medium,
    outLen: number,
  ): Promise<Completion> {
    // Safety rule 4: the primary re-checks its lease on the monotonic clock immediately before
    // a command that touches the medium executes (the data-out and the range lock may have
    // taken a while).
    if (lu?.access && isMediaCommand(row) && !lu.access.mayExecute()) {
      const s = lu.access.state();
      return checkCondition(
        reason(
          s === 'unavailable'
            ? 'LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_UNAVAILABLE_STATE'
            : 'LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION',
        ),
        lu,
      );
    }
    const ctx: ExecContext = { cmd, lu, target: this.#d.target, dataOut, medium };
    const outcome: Outcome = await row.execute(ctx, parsed);
    if (cmd.signal.aborted) throw new TaskAborted();
    return complete(lu, outcome, parsed.allocationLength, outLen);
  }
}

/** The data-out length the gate's run step would ask for (0 when it would fail first). */
export function dataOutToForward(cmd: TransportCommand, lu: LogicalUnit, row: AnyOpcodeRow): number {
  if (checkUsage(cmd.cdb, row)) return 0;
  const parsed = row.parse(cmd.cdb, lu);
  if (isSenseReason(parsed)) return 0;
  return fitToEdtl(cmd, lu, row, parsed)?.dataOutLength ?? 0;
}

/**
 * The parsed command with its data-out fitted to the initiator's EDTL. SCSI transfer length >
 * EDTL: data beyond EDTL is neither requested nor written (FCP-4 9.4.2 a); a command that
 * cannot stop at EDTL fails instead (9.4.2 b): undefined.
 */
function fitToEdtl(
  cmd: TransportCommand,
  lu: LogicalUnit | undefined,
  row: AnyOpcodeRow,
  parsed: ParsedCdb,
): ParsedCdb | undefined {
  const outLen: number = parsed.dataOutLength ?? 0;
  const edtl = cmd.writeExpected ? cmd.expectedLength : 0;
  if (outLen <= edtl) return parsed;
  return lu && row.truncateDataOut ? row.truncateDataOut(parsed, edtl, lu) : undefined;
}

/**
 * Receives `length` (> 0) bytes of the command's data-out: the data, or DATA PHASE ERROR when
 * the transport could not deliver it (a broken data sequence). Throws TaskAborted when the
 * task was aborted meanwhile.
 */
export async function receiveDataOut(
  cmd: TransportCommand,
  length: number,
  lu: LogicalUnit | undefined,
  log: Logger,
): Promise<Buffer | Completion> {
  let dataOut: Buffer;
  try {
    dataOut = await cmd.receiveDataOut(length);
  } catch (err) {
    if (cmd.signal.aborted) throw new TaskAborted();
    log.debug({ err: (err as Error).message, lun: cmd.lun }, 'data-out failed');
    return checkCondition(reason('DATA_PHASE_ERROR'), lu);
  }
  if (cmd.signal.aborted) throw new TaskAborted();
  return dataOut;
}

/** A bit set outside the row's CDB usage mask is a reserved bit: INVALID FIELD IN CDB. */
export function checkUsage(cdb: Buffer, row: AnyOpcodeRow): SenseReason | undefined {
  // Byte 1 of service-action commands carries the service action; it is in the mask.
  for (let i = 1; i < row.cdbLength; i++) {
    const extra = cdb[i]! & ~row.usage[i]!;
    if (extra !== 0) {
      return reason('INVALID_FIELD_IN_CDB', { field: { inCdb: true, byte: i, bit: 31 - Math.clz32(extra) } });
    }
  }
  return undefined;
}
