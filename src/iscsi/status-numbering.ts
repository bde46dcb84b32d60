import { snAdd } from '../util/serial.js';
import type { SeqFields } from './pdu/target-pdus.js';
import type { Session } from './session.js';

/**
 * StatSN of one connection (RFC 7143 4.2.2.2) and the ExpCmdSN/MaxCmdSN every target PDU
 * carries. The login phase numbers from the initiator's first ExpStatSN; after it, a response
 * consumes a StatSN and a PDU that is no status (R2T, a Data-In without status, our NOP-In
 * ping) repeats the next one.
 */
export class StatusNumbering {
  #statSN = 0;

  /** The first login request's ExpStatSN starts the numbering (RFC 7143 11.12). */
  startAt(expStatSN: number): void {
    if (this.#statSN === 0 && expStatSN !== 0) this.#statSN = expStatSN;
  }

  /** A login response: before a session exists the window is the request's own CmdSN. */
  login(session: Session | undefined, cmdSN: number): SeqFields {
    const cmd = session?.expCmdSN ?? cmdSN;
    return { statSN: this.#statSN++, expCmdSN: cmd, maxCmdSN: session?.maxCmdSN ?? cmd };
  }

  /** Full feature phase; `advance` consumes a StatSN. */
  next(s: Session, advance: boolean): SeqFields {
    s.refreshWindow();
    const statSN = this.#statSN;
    if (advance) this.#statSN = snAdd(this.#statSN, 1);
    return { statSN, expCmdSN: s.expCmdSN, maxCmdSN: s.maxCmdSN };
  }
}
