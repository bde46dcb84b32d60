import type { Socket } from 'node:net';
import { crc32c, putDigest } from '../util/crc32c.js';
import { pad4, setDataSegmentLength } from './pdu/bhs.js';

/** Pause reading from a peer that does not read its responses past this much queued output. */
const WRITE_HIGH_WATER = 32 << 20;
const EMPTY = Buffer.alloc(0);

/**
 * The send side of one connection: PDU framing (digests, padding), batching of one event-loop
 * turn into one writev, and the high-water mark that stops reading from a peer that does not
 * read.
 */
export class PduWriter {
  readonly #socket: Socket;
  readonly #closed: () => boolean;
  readonly #beforeFlush: () => void;
  readonly #onHighWater: () => void;
  #headerDigest = false;
  #dataDigest = false;
  #corked = false;

  /**
   * `beforeFlush` runs at the end of each batch, before its bytes go to the kernel; `onHighWater`
   * when the queued output passes the high-water mark (the connection stops reading until the
   * socket's 'drain').
   */
  constructor(socket: Socket, closed: () => boolean, beforeFlush: () => void, onHighWater: () => void) {
    this.#socket = socket;
    this.#closed = closed;
    this.#beforeFlush = beforeFlush;
    this.#onHighWater = onHighWater;
  }

  /** Digests of the PDUs sent from now on (RFC 7143 13.1). */
  configure(headerDigest: boolean, dataDigest: boolean): void {
    this.#headerDigest = headerDigest;
    this.#dataDigest = dataDigest;
  }

  /**
   * Coalesces everything sent during one turn of the event loop into one writev: responses
   * that complete together (a burst of backing-store callbacks) cost one system call.
   */
  batch(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    setImmediate(() => {
      this.#corked = false;
      this.#beforeFlush();
      this.#socket.uncork();
    });
  }

  /**
   * Runs `cb` once the kernel has every byte queued so far (writes complete in order: this
   * empty one's callback runs after any backpressure on the ones before it).
   */
  whenSent(cb: () => void): void {
    if (!this.#socket.destroyed) this.#socket.write(EMPTY, cb);
  }

  /**
   * Queues one PDU: header (+digest), data (+padding, +digest). `sent` runs once the kernel
   * has the bytes (socket writes complete in order), or at once if nothing can be sent.
   */
  write(hdr: Buffer, data: Buffer, sent?: () => void): void {
    if (this.#closed() || this.#socket.destroyed) {
      sent?.();
      return;
    }
    setDataSegmentLength(hdr, data.length);
    const sock = this.#socket;
    if (this.#headerDigest) {
      const d = Buffer.allocUnsafe(4);
      putDigest(d, 0, crc32c(hdr));
      sock.write(Buffer.concat([hdr, d]));
    } else {
      sock.write(hdr);
    }
    if (data.length > 0) {
      const pad = pad4(data.length);
      if (this.#dataDigest) {
        sock.write(data);
        const d = Buffer.alloc(pad + 4);
        putDigest(d, pad, crc32c(data, d.subarray(0, pad)));
        sock.write(d, sent);
      } else if (pad > 0) {
        sock.write(data);
        sock.write(Buffer.alloc(pad), sent);
      } else {
        sock.write(data, sent);
      }
    } else {
      sent?.();
    }
    if (sock.writableLength > WRITE_HIGH_WATER) this.#onHighWater();
  }
}
