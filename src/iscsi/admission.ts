import { Limits } from '../scsi/limits.js';
import type { ConnectionPort } from './connection-port.js';
import type { BudgetAccount } from './memory-budget.js';
import {
  BHS_LENGTH,
  BhsFlag,
  field32,
  InitiatorOpcode,
  isImmediate,
  itt as ittOf,
  opcodeOf,
  type Pdu,
  RESERVED_TAG,
  RejectReason,
} from './pdu/bhs.js';
import { releasePduData } from './pdu-reader.js';
import type { ReceiveFlow } from './receive-flow.js';
import type { SessionRegistry } from './session-registry.js';

/** What a command holds besides its data: task, closures, CDB, response (a round figure). */
const COMMAND_OVERHEAD = 1024;

/** What a PDU admitted to dispatch holds of the connection's memory budget until it is done. */
export interface Admitted {
  readonly bytes: number;
  /** An immediate SCSI command (counted against the window, RFC 7143 4.2.2.1). */
  readonly immediate: boolean;
}
export type HeldPdu = Pdu & { admitted?: Admitted | undefined };
/** A PDU waiting in #deferred: what it holds as received bytes, and whether it is immediate. */
type DeferredPdu = HeldPdu & { readonly deferredBytes: number; readonly deferredImmediate: boolean };

/** Bytes a PDU occupies while it waits (header, AHS, data). */
function pduBytes(pdu: Pdu): number {
  return BHS_LENGTH + pdu.ahs.length + pdu.data.length;
}

/**
 * A SCSI command's reservation: its data-out assembly and its Data-In, each at most the largest
 * transfer the device server accepts (a larger EDTL can never be filled).
 */
function commandCharge(bhs: Buffer): number {
  const edtl = Math.min(field32(bhs, 20), Limits.maxTransferBytes);
  const read = (bhs[1]! & BhsFlag.READ) !== 0;
  const write = (bhs[1]! & BhsFlag.WRITE) !== 0;
  return COMMAND_OVERHEAD + (read ? edtl : 0) + (write ? edtl : 0);
}

/** What admission needs from its connection. */
export type AdmissionHost = Pick<
  ConnectionPort,
  'fullFeature' | 'session' | 'log' | 'idle' | 'waiting' | 'dispatch' | 'reject' | 'close' | 'failed' | 'pump'
>;

/**
 * The memory budget at the connection's door (DESIGN.md "Trust"): a SCSI command reserves its
 * data-out and Data-In before it runs; past the budget, new commands wait here in order (and
 * what follows them), replayed once memory frees anywhere on the node. Immediate commands count
 * against the command window (RFC 7143 4.2.2.1).
 */
export class CommandAdmission {
  readonly #host: AdmissionHost;
  readonly #sessions: SessionRegistry;
  readonly #flow: ReceiveFlow;
  readonly #account: BudgetAccount;
  /** PDUs received while a command waits for memory; replayed in order once it frees. */
  #deferred: DeferredPdu[] = [];
  /** Immediate SCSI commands received and not yet answered. */
  #immediateHeld = 0;

  constructor(host: AdmissionHost, sessions: SessionRegistry, flow: ReceiveFlow) {
    this.#host = host;
    this.#sessions = sessions;
    this.#flow = flow;
    this.#account = sessions.memory.account(() => this.#resume());
  }

  /** Bytes this connection holds of the budget. */
  get used(): number {
    return this.#account.used;
  }

  /**
   * Full feature phase: a PDU goes to dispatch unless a command waits for memory; then
   * everything after it waits too, in order, except what lets the commands already running
   * finish (Data-Out) and answers to our pings.
   */
  admit(pdu: Pdu): void {
    const host = this.#host;
    if (this.#deferred.length === 0 || !host.fullFeature) {
      host.dispatch(pdu);
      return;
    }
    const op = opcodeOf(pdu.bhs);
    if (
      op === InitiatorOpcode.SCSI_DATA_OUT ||
      (op === InitiatorOpcode.NOP_OUT && ittOf(pdu.bhs) === RESERVED_TAG)
    ) {
      host.dispatch(pdu);
      return;
    }
    if (op === InitiatorOpcode.SCSI_COMMAND && !this.#immediateAllowed(pdu)) return;
    this.#defer(pdu);
  }

  /** Reserves a SCSI command's memory, or defers the command until memory frees. */
  chargeCommand(pdu: HeldPdu): boolean {
    if (pdu.admitted) return true; // replayed: reserved when it left #deferred
    if (!this.#immediateAllowed(pdu)) return false;
    const immediate = isImmediate(pdu.bhs);
    const bytes = commandCharge(pdu.bhs);
    const refusal = this.#account.tryCharge(bytes);
    if (refusal) {
      this.#defer(pdu);
      this.#checkStuck(refusal);
      return false;
    }
    if (immediate) this.#immediateHeld++;
    pdu.admitted = { bytes, immediate };
    return true;
  }

  /** A PDU other than a SCSI command holds its bytes only while it waits in the window. */
  holdWaiting(pdu: HeldPdu): void {
    if (pdu.data.length === 0 && pdu.ahs.length === 0) return;
    const bytes = pduBytes(pdu);
    this.#account.force(bytes);
    pdu.admitted = { bytes, immediate: false };
  }

  /** Gives back what a PDU reserved when it was admitted (it ran, or will never run). */
  unadmit(pdu: HeldPdu): void {
    const a = pdu.admitted;
    if (!a) return;
    pdu.admitted = undefined;
    this.release(a);
  }

  /** Gives back a command's reservation (its response is with the kernel, or never will be). */
  release(admitted: Admitted | undefined): void {
    if (!admitted) return;
    this.#account.release(admitted.bytes);
    if (admitted.immediate) this.#immediateHeld--;
  }

  /** The connection closed: what waits is dropped, the account gives everything back. */
  close(): void {
    for (const pdu of this.#deferred) releasePduData(pdu);
    this.#deferred = [];
    this.#account.close();
  }

  /**
   * An immediate command counts against the window: past it (RFC 7143 4.2.2.1 guarantees one
   * immediate non-TMF request per connection) it is refused with Reject 0x06, which tells the
   * initiator the PDU may be sent again (RFC 7143 11.17.1).
   */
  #immediateAllowed(pdu: Pdu): boolean {
    const s = this.#host.session;
    if (!isImmediate(pdu.bhs) || this.#immediateHeld === 0 || s.inFlight < s.window) return true;
    this.#sessions.refused('immediate-command-reject');
    this.#host.reject(RejectReason.IMMEDIATE_COMMAND_REJECT, pdu.bhs);
    return false;
  }

  /** Holds a received PDU until memory frees; past twice the budget, stops reading too. */
  #defer(pdu: Pdu): void {
    const isCommand = opcodeOf(pdu.bhs) === InitiatorOpcode.SCSI_COMMAND;
    const immediate = isCommand && isImmediate(pdu.bhs);
    const bytes = pduBytes(pdu);
    this.#account.force(bytes);
    // Deferred SCSI commands hold window slots: they are received, not yet answered.
    if (isCommand) this.#host.session.inFlight++;
    if (immediate) this.#immediateHeld++;
    this.#deferred.push({
      bhs: pdu.bhs,
      ahs: pdu.ahs,
      data: pdu.data,
      pooled: pdu.pooled ?? false,
      deferredBytes: bytes,
      deferredImmediate: immediate,
    });
    if (this.#account.used > 2 * this.#sessions.memory.limits.connection) this.#flow.pause('budget');
  }

  /**
   * Refused by its own limit while nothing of its own is running: only commands waiting in the
   * window for an earlier CmdSN hold the memory, and that CmdSN is behind this command in the
   * stream. A single-connection session never needs that (commands arrive in CmdSN order).
   */
  #checkStuck(refusal: 'connection' | 'node'): void {
    const host = this.#host;
    if (refusal === 'connection' && host.idle) {
      host.log.warn(
        { waiting: host.waiting, held: this.#account.used },
        'out-of-order commands exceed the connection memory budget',
      );
      host.close('out-of-order commands exceed the connection memory budget');
    }
  }

  /** Memory was freed somewhere on the node: replay what waits, in order, while it fits. */
  #resume(): void {
    const host = this.#host;
    if (!host.fullFeature) return;
    try {
      while (this.#deferred.length > 0 && host.fullFeature) {
        const pdu = this.#deferred[0]!;
        if (opcodeOf(pdu.bhs) === InitiatorOpcode.SCSI_COMMAND) {
          const bytes = commandCharge(pdu.bhs);
          // Counted once, when it was first held back (chargeCommand).
          const refusal = this.#account.tryCharge(bytes, false);
          if (refusal) {
            this.#checkStuck(refusal);
            return;
          }
          pdu.admitted = { bytes, immediate: pdu.deferredImmediate };
          host.session.inFlight--;
        }
        this.#deferred.shift();
        this.#account.release(pdu.deferredBytes);
        host.dispatch(pdu);
      }
    } catch (err) {
      host.failed(err);
      return;
    }
    this.#flow.resume('budget');
    host.pump();
  }
}
