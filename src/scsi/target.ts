import type { Logger } from '../util/logger.js';
import { ACCESS_STATE_CODE, aluaDisposition, isMediaCommand } from './alua.js';
import type { LbaRange } from './cdb.js';
import {
  type Completion,
  type ItNexus,
  type ScsiEngine,
  type TargetPort,
  TmfFunction,
  type TmfRequest,
  TmfResponse,
  type TmfResponseCode,
  type TransportCommand,
} from './command.js';
import { CopyManagerCommand } from './copy-manager-command.js';
import { DEVICE_ERROR_SENSE, deviceErrorKind } from './device-sense.js';
import {
  type ForwardedCommand,
  type ForwardedCompletion,
  ForwardedTransportCommand,
  forwardedItNexus,
  isForwardOutcomeUnknown,
  RESET_UNIT_ATTENTIONS,
  type ResetUnitAttention,
} from './forwarding.js';
import type { LogicalUnit } from './logical-unit.js';
import type { LuView } from './lu-view.js';
import { Medium } from './medium.js';
import { type CommandObserver, commandClass } from './observer.js';
import {
  type AnyOpcodeRow,
  AsymmetricAccessState,
  type ExecContext,
  type OpcodeTable,
  type Outcome,
  type ParsedCdb,
  type TargetPortGroupState,
  type TargetView,
} from './opcode-table.js';
import { buildSense, isSenseReason, reason, type SenseReason } from './sense-reason.js';
import { TargetPortGroupStatus } from './spec/alua.js';
import { ScsiStatus, TaskAttribute } from './spec/status.js';
import type { Task } from './task-set.js';

const EMPTY = Buffer.alloc(0);

/** The rows that run without an LU (INQUIRY, REPORT LUNS, REQUEST SENSE) change no medium. */
const NO_LU_MEDIUM = new Medium(undefined, 'none');

/** Thrown inside a task when its abort signal fires: the task ends with no response. */
class TaskAborted extends Error {}

/**
 * The SCSI engine of one target: its LUN map and the one gate every command passes
 * (STYLE.md: LUN exists → unit attention → ALUA → reservation → parse CDB → execute).
 */
export class ScsiTarget implements ScsiEngine, TargetView {
  readonly #luns = new Map<number, LogicalUnit>();
  readonly #table: OpcodeTable;
  readonly #log: Logger;
  /** Set by the composition root: every portal of every node is a target port. */
  targetPortCount = 1;
  #ports: readonly TargetPort[] = [];
  /** Forwarded tasks: what aborting them here does (ask the primary to abort its copy). */
  readonly #abortHooks = new WeakMap<TransportCommand, () => void>();
  #forwardSeq = 0;
  /** Forwarding side: a number per local nexus session object (ForwardedNexus.instance). */
  readonly #nexusInstances = new WeakMap<ItNexus, string>();
  /** Primary side: one ItNexus object per forwarded nexus session, most recent last. */
  readonly #forwardedNexuses = new Map<string, ItNexus>();
  /** Prefix of this node's forwarded command ids (unique per node and process). */
  forwardIdPrefix = `${process.pid}-${Date.now().toString(36)}`;
  /** Set by the composition root: told of every command completed on an existing LU. */
  observer: CommandObserver | undefined;

  /** The relative target ports that expose this target (REPORT TARGET PORT GROUPS). */
  setTargetPorts(ports: readonly TargetPort[]): void {
    this.#ports = ports;
    this.targetPortCount = ports.length;
  }

  targetPorts(): readonly TargetPort[] {
    return this.#ports;
  }

  constructor(table: OpcodeTable, log: Logger) {
    this.#table = table;
    this.#log = log;
  }

  get opcodeTable(): OpcodeTable {
    return this.#table;
  }

  addLun(lun: number, lu: LogicalUnit): void {
    if (this.#luns.has(lun)) throw new Error(`LUN ${lun} exists`);
    this.#luns.set(lun, lu);
    for (const other of this.#luns.values()) {
      if (other !== lu)
        other.unitAttentions.establishAll(other.knownNexuses(), reason('REPORTED_LUNS_DATA_HAS_CHANGED'));
    }
  }

  removeLun(lun: number): LogicalUnit | undefined {
    const lu = this.#luns.get(lun);
    if (!lu) return undefined;
    this.#luns.delete(lun);
    for (const other of this.#luns.values()) {
      other.unitAttentions.establishAll(other.knownNexuses(), reason('REPORTED_LUNS_DATA_HAS_CHANGED'));
    }
    return lu;
  }

  logicalUnit(lun: number): LogicalUnit | undefined {
    return this.#luns.get(lun);
  }

  logicalUnits(): ReadonlyMap<number, LogicalUnit> {
    return this.#luns;
  }

  /**
   * LUN masking (set by the composition root from the target's ACL): the LUNs an initiator may
   * see, or undefined for all. A masked LUN does not exist for that initiator: REPORT LUNS
   * leaves it out and commands to it get LOGICAL UNIT NOT SUPPORTED (SPC-4 4.6.23).
   */
  lunMask: ((initiatorName: string) => ReadonlySet<number> | undefined) | undefined;

  /** The LU at `lun` as the initiator `initiatorName` may see it. */
  #visible(initiatorName: string, lun: number): LogicalUnit | undefined {
    const mask = this.lunMask?.(initiatorName);
    return mask && !mask.has(lun) ? undefined : this.#luns.get(lun);
  }

  lunsFor(nexus: ItNexus | TransportCommand): number[] {
    const initiator = 'nexus' in nexus ? nexus.nexus.initiatorName : nexus.initiatorName;
    const mask = this.lunMask?.(initiator);
    return [...this.#luns.keys()].filter((l) => !mask || mask.has(l)).sort((a, b) => a - b);
  }

  async execute(cmd: TransportCommand): Promise<Completion> {
    const lu = this.#visible(cmd.nexus.initiatorName, cmd.lun);
    if (!lu) return this.#executeWithoutLu(cmd);
    lu.noteNexus(cmd.nexus.id);
    const obs = this.observer;
    if (!obs) return this.#executeOn(cmd, lu, false, 0);
    const t0 = performance.now();
    const c = await this.#executeOn(cmd, lu, false, t0);
    const seconds = (performance.now() - t0) / 1000;
    const cls = commandClass(this.#table.lookup(cmd.cdb));
    const good = c.status === ScsiStatus.GOOD;
    const bytesIn = good && c.data ? c.data.length : 0;
    const bytesOut = good && cls === 'write' && cmd.writeExpected ? c.transferLength : 0;
    obs.completed(cmd.lun, cls, bytesIn, bytesOut, seconds, c.status);
    const arrived = cmd.arrivedAt;
    if (arrived) {
      // Receive ends when the data-out is all in, or at the hand-over if it needed none.
      const dataOut = cmd.dataOutAt ?? 0;
      obs.stage(cmd.lun, 'receive', (Math.max(dataOut, t0) - arrived) / 1000);
    }
    return c;
  }

  /**
   * A command another node forwarded (it arrived there on an Active/Non-optimized port): run
   * through this engine as the initiator's nexus. The unit attention step is skipped — unit
   * attentions are delivered by the node where the nexus is logged in.
   */
  async executeForwarded(
    fc: ForwardedCommand,
    onAbort: (hook: () => void) => void,
  ): Promise<ForwardedCompletion> {
    const lu = this.#visible(fc.nexus.initiatorName, fc.lun);
    const cmd = new ForwardedTransportCommand(fc, this.#forwardedNexus(fc));
    onAbort(() => cmd.abort());
    if (!lu || lu.config.volumeId !== fc.volume) {
      // The nodes disagree on the LUN map for a moment (a reconcile in progress): retry.
      return this.#check(cmd, reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION'), lu);
    }
    const c = await this.#executeOn(cmd, lu, true, 0);
    // Pooled data-in memory goes back once copied into the reply.
    if (c.release && c.data) {
      const data = Buffer.from(c.data);
      c.release();
      return { status: c.status, data, transferLength: c.transferLength };
    }
    return c;
  }

  /** The same ItNexus object for every command of one forwarded nexus session (bounded). */
  #forwardedNexus(fc: ForwardedCommand): ItNexus {
    const key = fc.nexus.instance;
    let n = this.#forwardedNexuses.get(key);
    if (n) {
      this.#forwardedNexuses.delete(key);
    } else {
      n = forwardedItNexus(fc.nexus);
      if (this.#forwardedNexuses.size >= 4096) {
        this.#forwardedNexuses.delete(this.#forwardedNexuses.keys().next().value!);
      }
    }
    this.#forwardedNexuses.set(key, n);
    return n;
  }

  /** `t0`: performance.now() at the hand-over when the queue stage is observed, else 0. */
  async #executeOn(
    cmd: TransportCommand,
    lu: LogicalUnit,
    forwarded: boolean,
    t0: number,
  ): Promise<Completion> {
    const { task, result } = lu.taskSet.run(cmd, (t) => {
      if (t0 > 0) this.observer?.stage(cmd.lun, 'queue', (performance.now() - t0) / 1000);
      return this.#gate(cmd, lu, t, forwarded);
    });
    try {
      const c = await result;
      return task.aborted || c.aborted
        ? { status: ScsiStatus.TASK_ABORTED, transferLength: 0, aborted: true }
        : c;
    } catch (err) {
      if (task.aborted || err instanceof TaskAborted || cmd.signal.aborted) {
        return { status: ScsiStatus.TASK_ABORTED, transferLength: 0, aborted: true };
      }
      return this.#internalFailure(cmd, err, lu);
    }
  }

  /** Commands to a LUN that does not exist (SPC-4 4.6.23): only the noLun rows answer. */
  async #executeWithoutLu(cmd: TransportCommand): Promise<Completion> {
    const row = this.#table.lookup(cmd.cdb);
    if (typeof row === 'string' || !row.noLun) {
      return this.#check(cmd, reason('LOGICAL_UNIT_NOT_SUPPORTED'), undefined);
    }
    try {
      return await this.#run(cmd, undefined, row);
    } catch (err) {
      return this.#internalFailure(cmd, err, undefined);
    }
  }

  async #gate(cmd: TransportCommand, lu: LogicalUnit, _task: Task, forwarded: boolean): Promise<Completion> {
    if (cmd.signal.aborted) throw new TaskAborted();
    if (cmd.attribute === TaskAttribute.ACA) {
      // NormACA = 0 in our INQUIRY data: the ACA attribute is not supported (SAM-5 5.9.1).
      return this.#check(cmd, reason('INVALID_MESSAGE_ERROR'), lu);
    }
    const row = this.#table.lookup(cmd.cdb);
    // Unit attention comes before the opcode check: even an unsupported command reports it.
    // The copy manager's I/O leaves the unit attentions to the initiator's own commands.
    const ownCommand = !forwarded && !(cmd instanceof CopyManagerCommand);
    if (ownCommand && (typeof row === 'string' || !row.skipsUnitAttention)) {
      const ua = lu.unitAttentions.take(cmd.nexus.id);
      if (ua) return this.#check(cmd, ua, lu);
    }
    if (typeof row === 'string')
      return this.#check(
        cmd,
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
          return this.#check(
            cmd,
            reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION'),
            lu,
          );
        }
      } else {
        const d = aluaDisposition(state, row);
        if (d.action === 'refuse') return this.#check(cmd, reason(d.sense), lu);
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
    if (forward) return this.#forward(cmd, lu, row);
    return this.#run(cmd, lu, row);
  }

  /** Active/Non-optimized: receive the data-out the primary's gate will want, then forward. */
  async #forward(cmd: TransportCommand, lu: LogicalUnit, row: AnyOpcodeRow): Promise<Completion> {
    const forwarder = lu.forwarder;
    if (!forwarder) {
      return this.#check(cmd, reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION'), lu);
    }
    const fetch = this.#dataOutToForward(cmd, lu, row);
    let dataOut: Buffer = EMPTY;
    if (fetch > 0) {
      try {
        dataOut = await cmd.receiveDataOut(fetch);
      } catch (err) {
        if (cmd.signal.aborted) throw new TaskAborted();
        this.#log.debug({ err: (err as Error).message, lun: cmd.lun }, 'data-out failed');
        return this.#check(cmd, reason('DATA_PHASE_ERROR'), lu);
      }
      if (cmd.signal.aborted) throw new TaskAborted();
    }
    const n = cmd.nexus;
    let instance = this.#nexusInstances.get(n);
    if (!instance) {
      instance = `${this.forwardIdPrefix}-n${++this.#forwardSeq}`;
      this.#nexusInstances.set(n, instance);
    }
    const fc: ForwardedCommand = {
      id: `${this.forwardIdPrefix}-${++this.#forwardSeq}`,
      volume: lu.config.volumeId,
      lun: cmd.lun,
      nexus: {
        initiatorName: n.initiatorName,
        isid: n.isid,
        relativePortId: n.targetPort.relativePortId,
        targetPortGroupId: n.targetPort.targetPortGroupId,
        targetPortName: n.targetPort.name,
        targetName: n.targetPort.targetName,
        instance,
      },
      tag: cmd.tag,
      cdb: cmd.cdb,
      attribute: cmd.attribute,
      expectedLength: cmd.expectedLength,
      readExpected: cmd.readExpected,
      writeExpected: cmd.writeExpected,
      dataOut,
    };
    try {
      const c = await forwarder.forward(fc, (hook) => this.#abortHooks.set(cmd, hook));
      if (c.aborted) return { status: ScsiStatus.TASK_ABORTED, transferLength: 0, aborted: true };
      return c;
    } catch (err) {
      if (cmd.signal.aborted) throw new TaskAborted();
      if (isForwardOutcomeUnknown(err) && changesState(row)) {
        // It reached the primary and may have run there: "not executed" would be a lie that a
        // retried COMPARE AND WRITE turns into MISCOMPARE (issue 14, finding 7). The transport
        // ends the connection instead, and the initiator recovers as after a connection loss.
        // A command that changes nothing (READ, INQUIRY) is the same whether it ran or not.
        this.#log.warn({ err: err.message, lun: cmd.lun }, 'forwarded command outcome unknown');
        return { status: ScsiStatus.CHECK_CONDITION, transferLength: 0, outcomeUnknown: true };
      }
      this.#log.debug({ err: (err as Error).message, lun: cmd.lun }, 'forwarding to the primary failed');
      // Never sent: the primary is unreachable, a role change is under way, the initiator retries.
      return this.#check(cmd, reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION'), lu);
    } finally {
      this.#abortHooks.delete(cmd);
    }
  }

  /** The data-out length #run would ask for on the primary (0 when it would fail first). */
  #dataOutToForward(cmd: TransportCommand, lu: LogicalUnit, row: AnyOpcodeRow): number {
    if (checkUsage(cmd.cdb, row)) return 0;
    const parsed = row.parse(cmd.cdb, lu);
    if (isSenseReason(parsed)) return 0;
    const outLen: number = parsed.dataOutLength ?? 0;
    if (outLen === 0) return 0;
    const edtl = cmd.writeExpected ? cmd.expectedLength : 0;
    if (outLen <= edtl) return outLen;
    const shorter = row.truncateDataOut?.(parsed, edtl, lu);
    return shorter ? (shorter.dataOutLength ?? 0) : 0;
  }

  /** REPORT TARGET PORT GROUPS: the cluster's state of each group for this LU. */
  targetPortGroupState(lu: LuView | undefined, groupId: number): TargetPortGroupState {
    const access = lu?.access;
    if (!access) return { state: AsymmetricAccessState.ACTIVE_OPTIMIZED };
    const s = access.groupState(groupId) ?? 'unavailable';
    // The state was changed by implicit ALUA behaviour (SPC-4 6.36.2).
    const statusCode =
      s === 'active-optimized'
        ? TargetPortGroupStatus.NO_STATUS
        : TargetPortGroupStatus.ALTERED_BY_IMPLICIT_ALUA;
    return { state: ACCESS_STATE_CODE[s], statusCode };
  }

  async #run(cmd: TransportCommand, lu: LogicalUnit | undefined, row: AnyOpcodeRow): Promise<Completion> {
    const bad = checkUsage(cmd.cdb, row);
    if (bad) return this.#check(cmd, bad, lu);
    if (row.writesMedium && lu?.writeProtected) {
      return this.#check(
        cmd,
        reason(lu.config.readOnly ? 'WRITE_PROTECTED' : 'SOFTWARE_WRITE_PROTECTED'),
        lu,
      );
    }
    let parsed = row.parse(cmd.cdb, lu);
    if (isSenseReason(parsed)) return this.#check(cmd, parsed, lu);
    const outLen: number = parsed.dataOutLength ?? 0;
    let fetch = outLen;
    if (outLen > 0) {
      const edtl = cmd.writeExpected ? cmd.expectedLength : 0;
      if (outLen > edtl) {
        // SCSI transfer length > EDTL: data beyond EDTL is neither requested nor written
        // (FCP-4 9.4.2 a); a command that cannot stop at EDTL fails instead (9.4.2 b).
        const shorter = lu && row.truncateDataOut ? row.truncateDataOut(parsed, edtl, lu) : undefined;
        if (!shorter) {
          return {
            ...this.#check(cmd, reason('INVALID_FIELD_IN_COMMAND_INFORMATION_UNIT'), lu),
            transferLength: outLen,
          };
        }
        parsed = shorter;
        fetch = shorter.dataOutLength ?? 0;
      }
    }
    let dataOut: Buffer = EMPTY;
    if (fetch > 0) {
      try {
        dataOut = await cmd.receiveDataOut(fetch);
      } catch (err) {
        if (cmd.signal.aborted) throw new TaskAborted();
        // The transport could not deliver the data-out (a broken data sequence).
        this.#log.debug({ err: (err as Error).message, lun: cmd.lun }, 'data-out failed');
        return this.#check(cmd, reason('DATA_PHASE_ERROR'), lu);
      }
      if (cmd.signal.aborted) throw new TaskAborted();
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
      return this.#check(
        cmd,
        reason(
          s === 'unavailable'
            ? 'LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_UNAVAILABLE_STATE'
            : 'LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION',
        ),
        lu,
      );
    }
    const ctx: ExecContext = { cmd, lu, target: this, dataOut, medium };
    const outcome: Outcome = await row.execute(ctx, parsed);
    if (cmd.signal.aborted) throw new TaskAborted();
    return this.#complete(cmd, lu, outcome, parsed.allocationLength, outLen);
  }

  #complete(
    cmd: TransportCommand,
    lu: LogicalUnit | undefined,
    outcome: Outcome,
    allocationLength: number | undefined,
    outLen: number,
  ): Completion {
    if (outcome === undefined) return { status: ScsiStatus.GOOD, transferLength: outLen };
    if (isSenseReason(outcome)) return { ...this.#check(cmd, outcome, lu), transferLength: outLen };
    if (outcome.sense) return { ...this.#check(cmd, outcome.sense, lu), transferLength: outLen };
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

  #check(_cmd: TransportCommand, r: SenseReason, lu: LogicalUnit | undefined): Completion {
    return {
      status: ScsiStatus.CHECK_CONDITION,
      sense: buildSense(r, lu?.mode.dSense ?? false),
      transferLength: 0,
    };
  }

  #internalFailure(cmd: TransportCommand, err: unknown, lu: LogicalUnit | undefined): Completion {
    const op = cmd.cdb[0]!.toString(16).padStart(2, '0');
    const kind = deviceErrorKind(err);
    if (kind !== undefined) {
      const { sense, log, msg } = DEVICE_ERROR_SENSE[kind];
      this.#log[log]({ err, kind, opcode: op, lun: cmd.lun }, msg);
      return this.#check(cmd, reason(sense), lu);
    }
    this.#log.error({ err, opcode: op, lun: cmd.lun }, 'command failed inside the engine');
    return this.#check(cmd, reason('INTERNAL_TARGET_FAILURE'), lu);
  }

  async taskManagement(req: TmfRequest): Promise<TmfResponseCode> {
    const nexusId = req.nexus.id;
    switch (req.fn) {
      case TmfFunction.ABORT_TASK: {
        const lu = this.#visible(req.nexus.initiatorName, req.lun);
        if (!lu) return TmfResponse.LUN_DOES_NOT_EXIST;
        const victims = [...lu.taskSet.tasks()].filter(
          (t) => t.nexus.id === nexusId && t.tag === req.referencedTag,
        );
        // RFC 7143 11.5.1: a task we do not know (never received, or already answered) is
        // reported as FUNCTION COMPLETE too; the initiator's view is the same either way.
        await this.#abort(victims, nexusId);
        return TmfResponse.FUNCTION_COMPLETE;
      }
      case TmfFunction.ABORT_TASK_SET:
      case TmfFunction.CLEAR_TASK_SET: {
        const lu = this.#visible(req.nexus.initiatorName, req.lun);
        if (!lu) return TmfResponse.LUN_DOES_NOT_EXIST;
        const all = req.fn === TmfFunction.CLEAR_TASK_SET;
        const victims = [...lu.taskSet.tasks()].filter((t) => all || t.nexus.id === nexusId);
        await this.#abort(victims, nexusId);
        if (all) this.#notifyCleared(lu, victims, nexusId);
        return TmfResponse.FUNCTION_COMPLETE;
      }
      case TmfFunction.LOGICAL_UNIT_RESET: {
        const lu = this.#visible(req.nexus.initiatorName, req.lun);
        if (!lu) return TmfResponse.LUN_DOES_NOT_EXIST;
        await this.#resetLu(lu, nexusId, reason('BUS_DEVICE_RESET_FUNCTION_OCCURRED'));
        return TmfResponse.FUNCTION_COMPLETE;
      }
      case TmfFunction.TARGET_WARM_RESET:
      case TmfFunction.TARGET_COLD_RESET:
        await this.#resetTarget(req.nexus);
        return TmfResponse.FUNCTION_COMPLETE;
      default:
        return TmfResponse.FUNCTION_NOT_SUPPORTED;
    }
  }

  /**
   * TARGET WARM/COLD RESET: a logical unit reset of every LU the caller can see (SAM-5 7.11,
   * 7.12), here and, through #resetLu, on every node serving them. An LU masked from the
   * caller's initiator does not exist for it (SPC-4 4.6.23), so its tasks, reservations and
   * unit attentions stay as they are (DESIGN.md Trust).
   */
  async #resetTarget(nexus: ItNexus): Promise<void> {
    const visible = this.lunsFor(nexus).map((lun) => this.#luns.get(lun)!);
    await Promise.all(
      visible.map((lu) => this.#resetLu(lu, nexus.id, reason('POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED'))),
    );
  }

  async #resetLu(lu: LogicalUnit, issuer: string, ua: SenseReason): Promise<void> {
    const victims = [...lu.taskSet.tasks()];
    await this.#abort(victims, issuer);
    // SPC-2 reservations end with a logical unit reset; persistent reservations survive it
    // (SPC-4 5.13.1).
    await lu.reservations.logicalUnitReset();
    lu.reset();
    // SAM-5 6.3.3: a logical unit reset establishes a unit attention for every I_T nexus —
    // those logged in to other nodes too (the TMF completes once they have it).
    lu.unitAttentions.establishAll(lu.knownNexuses(), ua);
    if (lu.forwarder && isResetUnitAttention(ua.name)) {
      await lu.forwarder.resetPeers(lu.config.volumeId, ua.name);
    }
  }

  /** Another node reset the LU of `volume`: its tasks here end, its nexuses here learn it. */
  async resetFromPeer(volume: string, ua: ResetUnitAttention): Promise<boolean> {
    const lu = [...this.#luns.values()].find((l) => l.config.volumeId === volume);
    if (!lu) return false;
    await this.#abort([...lu.taskSet.tasks()], '');
    lu.reset();
    lu.unitAttentions.establishAll(lu.knownNexuses(), reason(ua));
    return true;
  }

  #notifyCleared(lu: LogicalUnit, victims: Task[], issuer: string): void {
    // SAM-5 5.6: with TAS = 0, other nexuses whose tasks were cleared learn it from a UA.
    if (lu.mode.tas) return;
    const others = new Set(victims.filter((t) => t.nexus.id !== issuer).map((t) => t.nexus.id));
    for (const id of others) lu.unitAttentions.establish(id, reason('COMMANDS_CLEARED_BY_ANOTHER_INITIATOR'));
  }

  async #abort(victims: Task[], issuer: string): Promise<void> {
    for (const t of victims) {
      t.aborted = true;
      t.abortedByOther = t.nexus.id !== issuer;
      t.cmd.abort();
      this.#abortHooks.get(t.cmd)?.();
    }
    // The TMF completes only when the aborted tasks can have no further effect.
    await Promise.all(victims.map((t) => t.done));
  }

  /**
   * EXTENDED COPY's copy manager: one READ or WRITE of a segment on `lun`, run as a direct
   * command of the issuing I_T nexus would be (DESIGN.md Trust: no path reaches an LU the
   * initiator could not reach directly). The LU must be visible to the initiator (masking);
   * the gate applies the ALUA state (forwarded to the primary from an Active/Non-optimized
   * port, refused where the port cannot do I/O, so a stale local copy is never read), the
   * reservations, the range lock and the LU's medium (a replicated volume mirrors the write).
   */
  copyManagerIo(
    parent: TransportCommand,
    lun: number,
    cdb: Buffer,
    io: { dataOut?: Buffer; readLength?: number },
  ): Promise<Completion> {
    const cmd = new CopyManagerCommand(parent, lun, cdb, io);
    const lu = this.#visible(parent.nexus.initiatorName, lun);
    if (!lu) return Promise.resolve(this.#check(cmd, reason('LOGICAL_UNIT_NOT_SUPPORTED'), undefined));
    return this.#executeOn(cmd, lu, false, 0);
  }

  nexusLost(nexus: ItNexus, why: 'logout' | 'reinstatement' | 'connection-loss'): Promise<void> {
    const releases: Promise<void>[] = [];
    for (const lu of this.#luns.values()) {
      for (const t of lu.taskSet.tasks()) {
        if (t.nexus.id === nexus.id) {
          t.aborted = true;
          t.cmd.abort();
          this.#abortHooks.get(t.cmd)?.();
        }
      }
      lu.forgetNexus(nexus.id);
      // The nexus's SPC-2 reservation ends with it (SPC-2 5.5.1); its registrations stay.
      releases.push(
        lu.reservations.nexusLost(nexus).catch((err: unknown) => {
          this.#log.error(
            { err, nexus: nexus.id, lun: lu.config.volumeId },
            'releasing a reservation failed',
          );
        }),
      );
    }
    this.#log.debug({ nexus: nexus.id, why }, 'I_T nexus lost');
    return Promise.all(releases).then(() => undefined);
  }
}

function isResetUnitAttention(name: string): name is ResetUnitAttention {
  return (RESET_UNIT_ATTENTIONS as readonly string[]).includes(name);
}

/**
 * Whether running the command twice can differ from running it once (finding 7): it carries a
 * parameter list or data to write (WRITE, COMPARE AND WRITE, PERSISTENT RESERVE OUT, MODE SELECT,
 * EXTENDED COPY) or changes the medium. The rest read, or set a state that a repeat from the
 * same nexus leaves as it is (RESERVE(6), PREVENT ALLOW MEDIUM REMOVAL, SYNCHRONIZE CACHE).
 */
function changesState(row: AnyOpcodeRow): boolean {
  return row.direction === 'out' || row.writes !== undefined || row.writesMedium === true;
}

/** A bit set outside the row's CDB usage mask is a reserved bit: INVALID FIELD IN CDB. */
function checkUsage(cdb: Buffer, row: AnyOpcodeRow): SenseReason | undefined {
  // Byte 1 of service-action commands carries the service action; it is in the mask.
  for (let i = 1; i < row.cdbLength; i++) {
    const extra = cdb[i]! & ~row.usage[i]!;
    if (extra !== 0) {
      return reason('INVALID_FIELD_IN_CDB', { field: { inCdb: true, byte: i, bit: 31 - Math.clz32(extra) } });
    }
  }
  return undefined;
}
