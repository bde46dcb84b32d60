import type { Logger } from '../util/logger.js';
import { ACCESS_STATE_CODE } from './alua.js';
import type {
  Completion,
  ItNexus,
  ScsiEngine,
  TargetPort,
  TmfRequest,
  TmfResponseCode,
  TransportCommand,
} from './command.js';
import { checkCondition } from './completion.js';
import { CopyManagerCommand } from './copy-manager-command.js';
import { ForwardPath } from './forward-path.js';
import {
  type ForwardedCommand,
  type ForwardedCompletion,
  ForwardedTransportCommand,
  type ResetUnitAttention,
} from './forwarding.js';
import { CommandGate } from './gate.js';
import type { LogicalUnit } from './logical-unit.js';
import type { LuView } from './lu-view.js';
import { LunMap } from './lun-map.js';
import { type CommandObserver, commandClass } from './observer.js';
import {
  AsymmetricAccessState,
  type OpcodeTable,
  type TargetPortGroupState,
  type TargetView,
} from './opcode-table.js';
import { reason } from './sense-reason.js';
import { TargetPortGroupStatus } from './spec/alua.js';
import { ScsiStatus } from './spec/status.js';
import { TaskManagement } from './task-management.js';

/**
 * The SCSI engine of one target: its LUN map (lun-map.ts) and the one gate every command
 * passes (gate.ts), forwarding to the primary (forward-path.ts), task management and resets
 * (task-management.ts). This class only wires them and measures the commands it completes.
 */
export class ScsiTarget implements ScsiEngine, TargetView {
  readonly #luns = new LunMap();
  readonly #table: OpcodeTable;
  readonly #forwarding: ForwardPath;
  readonly #gate: CommandGate;
  readonly #tmf: TaskManagement;
  /** Set by the composition root: every portal of every node is a target port. */
  targetPortCount = 1;
  #ports: readonly TargetPort[] = [];
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
    this.#forwarding = new ForwardPath(log);
    this.#gate = new CommandGate({
      table,
      log,
      target: this,
      observer: () => this.observer,
      forward: (cmd, lu, row) => this.#forwarding.forward(cmd, lu, row),
    });
    this.#tmf = new TaskManagement(this.#luns, log, (cmd) => this.#forwarding.aborted(cmd));
  }

  get opcodeTable(): OpcodeTable {
    return this.#table;
  }

  /** Prefix of this node's forwarded command ids (unique per node and process). */
  get forwardIdPrefix(): string {
    return this.#forwarding.idPrefix;
  }

  set forwardIdPrefix(prefix: string) {
    this.#forwarding.idPrefix = prefix;
  }

  addLun(lun: number, lu: LogicalUnit): void {
    this.#luns.add(lun, lu);
  }

  removeLun(lun: number): LogicalUnit | undefined {
    return this.#luns.remove(lun);
  }

  logicalUnit(lun: number): LogicalUnit | undefined {
    return this.#luns.get(lun);
  }

  logicalUnits(): ReadonlyMap<number, LogicalUnit> {
    return this.#luns.all();
  }

  /**
   * LUN masking (set by the composition root from the target's ACL): the LUNs an initiator may
   * see, or undefined for all (lun-map.ts).
   */
  get lunMask(): ((initiatorName: string) => ReadonlySet<number> | undefined) | undefined {
    return this.#luns.lunMask;
  }

  set lunMask(mask: ((initiatorName: string) => ReadonlySet<number> | undefined) | undefined) {
    this.#luns.lunMask = mask;
  }

  lunsFor(nexus: ItNexus | TransportCommand): number[] {
    return this.#luns.lunsFor(nexus);
  }

  async execute(cmd: TransportCommand): Promise<Completion> {
    const lu = this.#luns.visible(cmd.nexus.initiatorName, cmd.lun);
    if (!lu) return this.#gate.executeWithoutLu(cmd);
    lu.noteNexus(cmd.nexus.id);
    const obs = this.observer;
    if (!obs) return this.#gate.executeOn(cmd, lu, false, 0);
    const t0 = performance.now();
    const c = await this.#gate.executeOn(cmd, lu, false, t0);
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
    const lu = this.#luns.visible(fc.nexus.initiatorName, fc.lun);
    const cmd = new ForwardedTransportCommand(fc, this.#forwarding.forwardedNexus(fc));
    onAbort(() => cmd.abort());
    if (!lu || lu.config.volumeId !== fc.volume) {
      // The nodes disagree on the LUN map for a moment (a reconcile in progress): retry.
      return checkCondition(reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION'), lu);
    }
    const c = await this.#gate.executeOn(cmd, lu, true, 0);
    // Pooled data-in memory goes back once copied into the reply.
    if (c.release && c.data) {
      const data = Buffer.from(c.data);
      c.release();
      return { status: c.status, data, transferLength: c.transferLength };
    }
    return c;
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
    const lu = this.#luns.visible(parent.nexus.initiatorName, lun);
    if (!lu) return Promise.resolve(checkCondition(reason('LOGICAL_UNIT_NOT_SUPPORTED'), undefined));
    return this.#gate.executeOn(cmd, lu, false, 0);
  }

  taskManagement(req: TmfRequest): Promise<TmfResponseCode> {
    return this.#tmf.taskManagement(req);
  }

  /** Another node reset the LU of `volume`: its tasks here end, its nexuses here learn it. */
  resetFromPeer(volume: string, ua: ResetUnitAttention): Promise<boolean> {
    return this.#tmf.resetFromPeer(volume, ua);
  }

  nexusLost(nexus: ItNexus, why: 'logout' | 'reinstatement' | 'connection-loss'): Promise<void> {
    return this.#tmf.nexusLost(nexus, why);
  }
}
