import { TmfResponse } from '../scsi/command.js';
import type { Logger } from '../util/logger.js';
import { snAdd, snLe, snLt } from '../util/serial.js';
import { field32, InitiatorOpcode, isImmediate, itt, opcodeOf, type Pdu, RESERVED_TAG } from './pdu/bhs.js';

/** The session's command numbering the window reads and advances (RFC 7143 4.2.2.1). */
export interface CmdSnState {
  expCmdSN: number;
  readonly maxCmdSN: number;
}

/**
 * CmdSN ordering (RFC 7143 4.2.2.1): immediate PDUs run at once (their CmdSN "may lie outside"
 * the window: the connection bounds how many it holds, Reject 0x06); others run in CmdSN order,
 * those that arrive early wait here; a non-immediate CmdSN outside [ExpCmdSN, MaxCmdSN], or a
 * duplicate within it, is silently ignored.
 */
export class CommandWindow {
  /** Commands that arrived ahead of their CmdSN; null: consumed by ABORT TASK before arrival. */
  readonly #pending = new Map<number, Pdu | null>();
  readonly #run: (pdu: Pdu, cmdSN: number) => void;
  readonly #log: () => Logger;
  readonly #drop: (pdu: Pdu) => void;

  /** `drop` runs for every PDU offered that will never run (its memory can be released). */
  constructor(
    run: (pdu: Pdu, cmdSN: number) => void,
    log: () => Logger,
    drop: (pdu: Pdu) => void = () => {},
  ) {
    this.#run = run;
    this.#log = log;
    this.#drop = drop;
  }

  /** Commands waiting here for the ones before them. */
  get waiting(): number {
    return this.#pending.size;
  }

  /** Drops every waiting command (the connection closed). */
  clear(): void {
    for (const p of this.#pending.values()) if (p) this.#drop(p);
    this.#pending.clear();
  }

  offer(s: CmdSnState, pdu: Pdu): void {
    const op = opcodeOf(pdu.bhs);
    const cmdSN = field32(pdu.bhs, 24);
    // A NOP-Out answering our ping (ITT 0xffffffff) carries no CmdSN semantics.
    if (op === InitiatorOpcode.NOP_OUT && itt(pdu.bhs) === RESERVED_TAG) {
      this.#run(pdu, cmdSN);
      return;
    }
    if (isImmediate(pdu.bhs)) {
      this.#run(pdu, cmdSN);
      return;
    }
    if (snLt(cmdSN, s.expCmdSN) || snLt(s.maxCmdSN, cmdSN)) {
      this.#log().debug(
        { cmdSN, expCmdSN: s.expCmdSN, maxCmdSN: s.maxCmdSN },
        'CmdSN outside the window: ignored',
      );
      this.#drop(pdu);
      return;
    }
    if (cmdSN !== s.expCmdSN) {
      if (!this.#pending.has(cmdSN)) this.#pending.set(cmdSN, copyPdu(pdu));
      else this.#drop(pdu); // a duplicate within the window: silently ignored (4.2.2.1)
      return;
    }
    if (this.#pending.get(cmdSN) === null) {
      // ABORT TASK named this CmdSN before it arrived: it counts as received and never runs.
      this.#drop(pdu);
      this.#pending.delete(cmdSN);
      s.expCmdSN = snAdd(s.expCmdSN, 1);
    } else {
      this.#advance(s, pdu, cmdSN);
    }
    this.#drain(s);
  }

  /**
   * ABORT TASK for a task this connection does not hold (RFC 7143 11.5.1 b, c). RefCmdSN still
   * in the window and before the TMF's own CmdSN: the command has not arrived; it counts as
   * received and will not run. Otherwise it was answered already: TASK DOES NOT EXIST, which
   * tells the initiator to expect (or that it has had) the task's own response.
   */
  abortUnseen(s: CmdSnState, cmdSN: number, refCmdSN: number): number {
    const inWindow = snLe(s.expCmdSN, refCmdSN) && snLe(refCmdSN, s.maxCmdSN);
    if (!inWindow || !snLt(refCmdSN, cmdSN)) return TmfResponse.TASK_DOES_NOT_EXIST;
    const waiting = this.#pending.get(refCmdSN);
    if (waiting) this.#drop(waiting);
    this.#pending.set(refCmdSN, null);
    this.#drain(s);
    return TmfResponse.FUNCTION_COMPLETE;
  }

  /** Runs the commands that waited for the ones before them, skipping aborted CmdSNs. */
  #drain(s: CmdSnState): void {
    for (;;) {
      const sn = s.expCmdSN;
      const next = this.#pending.get(sn);
      if (next === undefined) return;
      this.#pending.delete(sn);
      if (next === null) s.expCmdSN = snAdd(sn, 1);
      else this.#advance(s, next, sn);
    }
  }

  #advance(s: CmdSnState, pdu: Pdu, cmdSN: number): void {
    s.expCmdSN = snAdd(s.expCmdSN, 1);
    this.#run(pdu, cmdSN);
  }
}

/**
 * A private copy of a waiting PDU: its data may be a view into a larger socket read. Pooled data
 * is already private (the reader gathered it): it waits as it is, still the transport's to give
 * back (`drop`, or whoever handles the PDU).
 */
function copyPdu<P extends Pdu>(p: P): P {
  const data = p.pooled ? p.data : Buffer.from(p.data);
  return { ...p, bhs: Buffer.from(p.bhs), ahs: Buffer.from(p.ahs), data, pooled: p.pooled ?? false };
}
