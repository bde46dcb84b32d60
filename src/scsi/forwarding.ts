import { TandemError } from '../util/errors.js';
import type { ItNexus, TargetPort, TransportCommand } from './command.js';
import type { SenseReasonName } from './sense-reason.js';
import type { TaskAttributeCode } from './spec/status.js';

/** Unit attentions a reset establishes (SAM-5 6.3.3), the only ones a peer may ask for. */
export const RESET_UNIT_ATTENTIONS = [
  'BUS_DEVICE_RESET_FUNCTION_OCCURRED',
  'POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED',
] as const satisfies readonly SenseReasonName[];
export type ResetUnitAttention = (typeof RESET_UNIT_ATTENTIONS)[number];

/**
 * Command forwarding (DESIGN.md Roles and ALUA: Active/Non-optimized with forwarding). A port
 * group that is not the primary's hands every media command to the primary, which executes it
 * through its own engine as the initiator's I_T nexus and returns status, sense, data and
 * transfer length unchanged. The engine owns these contracts; the cluster implements the wire
 * (proto/tandem/forward/v1/forward.proto).
 */

/** The initiator's I_T nexus as it exists on the forwarding node. */
export interface ForwardedNexus {
  readonly initiatorName: string;
  /** ISID, 12 hex digits. */
  readonly isid: string;
  /** The relative target port the command arrived on (cluster-unique). */
  readonly relativePortId: number;
  readonly targetPortGroupId: number;
  /** SCSI name of that target port (`<iqn>,t,0x<tpgt>`). */
  readonly targetPortName: string;
  readonly targetName: string;
  /** This nexus's session on the forwarding node, unique cluster-wide (see forward.proto). */
  readonly instance: string;
}

export interface ForwardedCommand {
  /** Unique per forwarding node while the command lives (Abort names it). */
  readonly id: string;
  /** The volume the LU is (the primary checks it still maps `lun` to the same volume). */
  readonly volume: string;
  readonly lun: number;
  readonly nexus: ForwardedNexus;
  readonly tag: number;
  readonly cdb: Buffer;
  readonly attribute: TaskAttributeCode;
  readonly expectedLength: number;
  readonly readExpected: boolean;
  readonly writeExpected: boolean;
  /** The whole data-out the primary's gate will ask for (received before forwarding). */
  readonly dataOut: Buffer;
}

export interface ForwardedCompletion {
  readonly status: number;
  readonly sense?: Buffer;
  readonly data?: Buffer;
  readonly transferLength: number;
  /** The primary aborted the task (a PREEMPT AND ABORT, a TMF): no response is sent. */
  readonly aborted?: boolean;
}

/**
 * A forwarded command was sent to the primary and its outcome is unknown: it may have run
 * there. Reporting "not executed" would be a lie a retry turns into MISCOMPARE (COMPARE AND
 * WRITE) or RESERVATION CONFLICT (PR OUT), so the transport ends the nexus's connection
 * instead and the initiator recovers as after a connection loss (issue 14, finding 7).
 */
export class ForwardOutcomeUnknown extends TandemError {
  constructor(message: string) {
    super('TANDEM_ERR_FORWARD_OUTCOME_UNKNOWN', message);
    this.name = 'ForwardOutcomeUnknown';
  }
}

/** Whether a forwarder's rejection is the catalogue's outcome unknown (whoever raised it). */
export function isForwardOutcomeUnknown(err: unknown): err is TandemError {
  return err instanceof TandemError && err.code === 'TANDEM_ERR_FORWARD_OUTCOME_UNKNOWN';
}

/** The forwarding node's side: send a command to the volume's primary. */
export interface CommandForwarder {
  /**
   * Resolves with the primary's answer. Rejects in two ways (issue 14, finding 7):
   * - the command provably never reached a primary (none known, the forwarder is closed, the
   *   channel could not connect before sending): any other error. The gate reports
   *   ASYMMETRIC ACCESS STATE TRANSITION ("not executed, retry"), and the initiator retries.
   * - it was sent and no trustworthy answer came (the stream broke, the deadline passed, the
   *   primary changed, and no answer arrived within a short grace after the abort):
   *   `ForwardOutcomeUnknown`. The engine then completes it with `outcomeUnknown`.
   * `onAbort` registers the hook the engine calls when the task is aborted here (TMF, nexus
   * loss): the forwarder asks the primary to abort its copy and still waits for its answer.
   */
  forward(cmd: ForwardedCommand, onAbort: (hook: () => void) => void): Promise<ForwardedCompletion>;
  /**
   * A reset of the LU here: every other live node serving the volume aborts its tasks of the
   * LU and queues `ua` for its nexuses. Resolves when they have (or could not be reached).
   */
  resetPeers(volume: string, ua: ResetUnitAttention): Promise<void>;
}

/** The primary's side: execute a forwarded command. */
export interface ForwardedCommandExecutor {
  /** `abort` is called when the forwarding node asks for it or the call is cancelled. */
  executeForwarded(cmd: ForwardedCommand, onAbort: (hook: () => void) => void): Promise<ForwardedCompletion>;
  /** Another node reset the volume's LU: do the same here. Resolves false if no LU has it. */
  resetFromPeer(volume: string, ua: ResetUnitAttention): Promise<boolean>;
}

/** The ItNexus the primary executes a forwarded command as (same id scheme as the transport). */
export function forwardedItNexus(n: ForwardedNexus): ItNexus {
  const initiatorPortName = `${n.initiatorName},i,0x${n.isid}`;
  const targetPort: TargetPort = {
    relativePortId: n.relativePortId,
    targetPortGroupId: n.targetPortGroupId,
    name: n.targetPortName,
    targetName: n.targetName,
  };
  return {
    id: `${initiatorPortName}|${n.relativePortId}`,
    initiatorPortName,
    initiatorName: n.initiatorName,
    isid: n.isid,
    targetPort,
  };
}

/** A forwarded command as a TransportCommand: its data-out is already here. */
export class ForwardedTransportCommand implements TransportCommand {
  readonly nexus: ItNexus;
  readonly lun: number;
  readonly tag: number;
  readonly cdb: Buffer;
  readonly attribute: TaskAttributeCode;
  readonly expectedLength: number;
  readonly readExpected: boolean;
  readonly writeExpected: boolean;
  readonly signal = { aborted: false };
  readonly #dataOut: Buffer;

  /** `nexus`: the primary's object for this nexus session (reused across its commands). */
  constructor(fc: ForwardedCommand, nexus: ItNexus = forwardedItNexus(fc.nexus)) {
    this.nexus = nexus;
    this.lun = fc.lun;
    this.tag = fc.tag;
    this.cdb = fc.cdb;
    this.attribute = fc.attribute;
    this.expectedLength = fc.expectedLength;
    this.readExpected = fc.readExpected;
    this.writeExpected = fc.writeExpected;
    this.#dataOut = fc.dataOut;
  }

  abort(): void {
    this.signal.aborted = true;
  }

  receiveDataOut(length: number): Promise<Buffer> {
    if (this.signal.aborted) return Promise.reject(new Error('task aborted'));
    if (length > this.#dataOut.length) {
      // Both gates compute the same length; a mismatch means the nodes disagree on the LU.
      return Promise.reject(
        new Error(`forwarded data-out has ${this.#dataOut.length} bytes, ${length} wanted`),
      );
    }
    return Promise.resolve(this.#dataOut.subarray(0, length));
  }
}
