import type { Logger } from '../util/logger.js';
import type { Completion, ItNexus, TransportCommand } from './command.js';
import { abortedCompletion, checkCondition, TaskAborted } from './completion.js';
import { type ForwardedCommand, forwardedItNexus, isForwardOutcomeUnknown } from './forwarding.js';
import { dataOutToForward, receiveDataOut } from './gate.js';
import type { LogicalUnit } from './logical-unit.js';
import type { AnyOpcodeRow } from './opcode-table.js';
import { reason } from './sense-reason.js';
import { ScsiStatus } from './spec/status.js';

const EMPTY = Buffer.alloc(0);

/**
 * The engine's two ends of command forwarding (forwarding.ts): on an Active/Non-optimized
 * node, a command goes to the volume's primary with its data-out; on the primary, the
 * forwarded nexus sessions get one ItNexus object each.
 */
export class ForwardPath {
  readonly #log: Logger;
  /** Forwarded tasks: what aborting them here does (ask the primary to abort its copy). */
  readonly #abortHooks = new WeakMap<TransportCommand, () => void>();
  #seq = 0;
  /** Forwarding side: a number per local nexus session object (ForwardedNexus.instance). */
  readonly #nexusInstances = new WeakMap<ItNexus, string>();
  /** Primary side: one ItNexus object per forwarded nexus session, most recent last. */
  readonly #forwardedNexuses = new Map<string, ItNexus>();
  /** Prefix of this node's forwarded command ids (unique per node and process). */
  idPrefix = `${process.pid}-${Date.now().toString(36)}`;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** The task of `cmd` was aborted here: if it is forwarded, ask the primary to abort its copy. */
  aborted(cmd: TransportCommand): void {
    this.#abortHooks.get(cmd)?.();
  }

  /** Active/Non-optimized: receive the data-out the primary's gate will want, then forward. */
  async forward(cmd: TransportCommand, lu: LogicalUnit, row: AnyOpcodeRow): Promise<Completion> {
    const forwarder = lu.forwarder;
    if (!forwarder) {
      return checkCondition(reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION'), lu);
    }
    const fetch = dataOutToForward(cmd, lu, row);
    let dataOut: Buffer = EMPTY;
    if (fetch > 0) {
      const got = await receiveDataOut(cmd, fetch, lu, this.#log);
      if (!Buffer.isBuffer(got)) return got;
      dataOut = got;
    }
    const n = cmd.nexus;
    let instance = this.#nexusInstances.get(n);
    if (!instance) {
      instance = `${this.idPrefix}-n${++this.#seq}`;
      this.#nexusInstances.set(n, instance);
    }
    const fc: ForwardedCommand = {
      id: `${this.idPrefix}-${++this.#seq}`,
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
      if (c.aborted) return abortedCompletion();
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
      return checkCondition(reason('LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION'), lu);
    } finally {
      this.#abortHooks.delete(cmd);
    }
  }

  /** Primary side: the same ItNexus object for every command of one forwarded nexus session (bounded). */
  forwardedNexus(fc: ForwardedCommand): ItNexus {
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
