import type { ConnectionPort } from './connection-port.js';
import { field32, itt as ittOf, type Pdu, RESERVED_TAG, RejectReason } from './pdu/bhs.js';
import * as out from './pdu/target-pdus.js';

/** NOP-In ping timing of a connection (the portal's options). */
export interface NopTiming {
  /** Ping after this much silence from the initiator; 0: never. */
  readonly nopInIntervalMs: number;
  /** Close when a ping stays unanswered this long. */
  readonly nopInTimeoutMs: number;
}

/**
 * NOP-Out / NOP-In (RFC 7143 11.18, 11.19): answers the initiator's pings, and pings a silent
 * initiator, closing the connection when the ping goes unanswered.
 */
export class NopPing {
  readonly #port: ConnectionPort;
  readonly #timing: NopTiming;
  readonly #allocateTtt: () => number;
  #lastRx = Date.now();
  #pingTtt: number | undefined;
  #pingSentAt = 0;

  constructor(port: ConnectionPort, timing: NopTiming, allocateTtt: () => number) {
    this.#port = port;
    this.#timing = timing;
    this.#allocateTtt = allocateTtt;
  }

  /** Bytes arrived from the initiator. */
  received(now: number): void {
    this.#lastRx = now;
  }

  onNopOut(pdu: Pdu): void {
    const bhs = pdu.bhs;
    const itt = ittOf(bhs);
    const ttt = field32(bhs, 20);
    if (itt === RESERVED_TAG) {
      // An answer to our ping (or a ping that wants no answer).
      if (ttt === this.#pingTtt) this.#pingTtt = undefined;
      return;
    }
    const port = this.#port;
    if (ttt !== RESERVED_TAG) {
      port.reject(RejectReason.PROTOCOL_ERROR, bhs);
      return;
    }
    port.send(
      out.nopIn({ itt, ttt: RESERVED_TAG, lunBytes: bhs.subarray(8, 16) }, port.seq(true)),
      Buffer.from(pdu.data),
    );
  }

  /** Full feature phase timer tick: why to close the connection, if it must close. */
  tick(now: number): string | undefined {
    const t = this.#timing;
    if (t.nopInIntervalMs <= 0) return undefined;
    if (this.#pingTtt !== undefined) {
      return now - this.#pingSentAt > t.nopInTimeoutMs ? 'NOP-In ping unanswered' : undefined;
    }
    if (now - this.#lastRx >= t.nopInIntervalMs) {
      this.#pingTtt = this.#allocateTtt();
      this.#pingSentAt = now;
      // RFC 7143 11.19: a target ping has ITT 0xffffffff and does not advance StatSN.
      const port = this.#port;
      port.send(out.nopIn({ itt: RESERVED_TAG, ttt: this.#pingTtt }, port.seq(false)));
    }
    return undefined;
  }
}
