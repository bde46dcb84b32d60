import type { CommandAdmission, HeldPdu } from './admission.js';
import { CommandWindow } from './command-window.js';
import type { ConnectionPort } from './connection-port.js';
import { InitiatorOpcode, opcodeOf, type Pdu, RejectReason } from './pdu/bhs.js';
import { releasePduData } from './pdu-reader.js';

/** The full-feature handlers of one connection, by opcode. */
export interface PduHandlers {
  /** Runs a SCSI command; it keeps the PDU's reservation and data. */
  scsiCommand(pdu: HeldPdu, cmdSN: number): void;
  dataOut(pdu: Pdu): void;
  nopOut(pdu: Pdu): void;
  tmf(pdu: Pdu, window: CommandWindow): void;
  text(pdu: Pdu): void;
  logout(pdu: Pdu): void;
}

/**
 * Full feature phase dispatch (RFC 7143 4.2.2.1, 11): Data-Out goes straight to its task; the
 * other requests reserve their memory (admission) and run in CmdSN order through the window;
 * SNACK (ERL 0) and unknown opcodes are rejected. What a PDU's handler does not keep of its
 * pooled data goes back to the pool here.
 */
export class PduRouter {
  readonly window: CommandWindow;
  readonly #port: ConnectionPort;
  readonly #admission: CommandAdmission;
  readonly #handlers: PduHandlers;

  constructor(port: ConnectionPort, admission: CommandAdmission, handlers: PduHandlers) {
    this.#port = port;
    this.#admission = admission;
    this.#handlers = handlers;
    this.window = new CommandWindow(
      (pdu, cmdSN) => this.#execute(pdu, cmdSN),
      () => port.log,
      (pdu) => this.#drop(pdu),
    );
  }

  route(pdu: Pdu): void {
    const op = opcodeOf(pdu.bhs);
    if (op === InitiatorOpcode.SCSI_DATA_OUT) {
      this.#handlers.dataOut(pdu);
      return;
    }
    const known =
      op === InitiatorOpcode.NOP_OUT ||
      op === InitiatorOpcode.SCSI_COMMAND ||
      op === InitiatorOpcode.TASK_MANAGEMENT_REQUEST ||
      op === InitiatorOpcode.TEXT_REQUEST ||
      op === InitiatorOpcode.LOGOUT_REQUEST;
    if (!known) {
      releasePduData(pdu);
      // ErrorRecoveryLevel 0: SNACK is not supported (RFC 7143 11.16).
      this.#port.reject(
        op === InitiatorOpcode.SNACK_REQUEST
          ? RejectReason.PROTOCOL_ERROR
          : RejectReason.COMMAND_NOT_SUPPORTED,
        pdu.bhs,
      );
      return;
    }
    const held = pdu as HeldPdu;
    if (op === InitiatorOpcode.SCSI_COMMAND) {
      if (!this.#admission.chargeCommand(held)) return;
    } else {
      this.#admission.holdWaiting(held);
    }
    this.window.offer(this.#port.session, held);
  }

  /** The window will never run `pdu`: its reservation and its pooled data go back. */
  #drop(pdu: HeldPdu): void {
    this.#admission.unadmit(pdu);
    releasePduData(pdu);
  }

  #execute(pdu: HeldPdu, cmdSN: number): void {
    const op = opcodeOf(pdu.bhs);
    const h = this.#handlers;
    if (op === InitiatorOpcode.SCSI_COMMAND) {
      // Only a SCSI command keeps its reservation, and its data, beyond this point.
      h.scsiCommand(pdu, cmdSN);
      return;
    }
    this.#admission.unadmit(pdu);
    switch (op) {
      case InitiatorOpcode.NOP_OUT:
        h.nopOut(pdu);
        break;
      case InitiatorOpcode.TASK_MANAGEMENT_REQUEST:
        h.tmf(pdu, this.window);
        break;
      case InitiatorOpcode.TEXT_REQUEST:
        h.text(pdu);
        break;
      case InitiatorOpcode.LOGOUT_REQUEST:
        h.logout(pdu);
        break;
      default:
        break;
    }
    // The handlers copy what they keep of the data (NOP-In echo, Text continuations).
    releasePduData(pdu);
  }
}
