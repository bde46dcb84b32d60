import { ProtocolError } from '../util/errors.js';
import type { ConnectionPort } from './connection-port.js';
import { InitiatorOpcode, opcodeOf, RejectReason } from './pdu/bhs.js';
import type { PduReader } from './pdu-reader.js';

/** What the pump needs of its connection. */
export type PumpHost = Pick<ConnectionPort, 'closed' | 'log' | 'admit' | 'reject' | 'close' | 'end'>;

/**
 * Runs the reader over what the socket delivered, one PDU at a time, never re-entered (a
 * handler that sends, or memory freed while a PDU is handled, calls pump() again). A handler's
 * ProtocolError closes the connection as the peer's fault; anything else as an internal error.
 */
export class PduPump {
  readonly #reader: PduReader;
  readonly #host: PumpHost;
  #pumping = false;

  constructor(reader: PduReader, host: PumpHost) {
    this.#reader = reader;
    this.#host = host;
  }

  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    const host = this.#host;
    try {
      while (!host.closed) {
        const ev = this.#reader.next();
        if (ev === undefined) break;
        if (ev.kind === 'pdu') host.admit(ev.pdu);
        else this.#dataDigestError(ev.bhs);
      }
    } catch (err) {
      this.failed(err);
    } finally {
      this.#pumping = false;
    }
  }

  /** A PDU handler threw: the connection closes. */
  failed(err: unknown): void {
    const host = this.#host;
    if (err instanceof ProtocolError) {
      host.log.warn({ err: err.message, code: err.code }, 'protocol error from initiator');
      host.close(`protocol error: ${err.message}`);
    } else {
      host.log.error({ err }, 'internal error while handling a PDU');
      host.close('internal error');
    }
  }

  #dataDigestError(bhs: Buffer): void {
    const host = this.#host;
    host.log.warn({ opcode: opcodeOf(bhs) }, 'data digest mismatch');
    host.reject(RejectReason.DATA_DIGEST_ERROR, bhs);
    // ERL 0 cannot ask for the data again (RFC 7143 7.8): a data-carrying SCSI PDU is lost,
    // and with it the task; close the connection so the initiator recovers the session.
    const op = opcodeOf(bhs);
    if (op === InitiatorOpcode.SCSI_COMMAND || op === InitiatorOpcode.SCSI_DATA_OUT) {
      host.end('data digest error on SCSI data');
    }
  }
}
