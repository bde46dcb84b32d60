// A bare TCP connection to a portal for attacks that never log in properly: it sends whatever
// bytes it is given and decodes what comes back (no digests: nothing here reaches the full
// feature phase with digests on). Nothing about the target is assumed beyond PDU framing.
import net from 'node:net';
import { decodeTargetPdu, type TargetPdu } from '../initiator/pdu.js';
import { PduReader } from '../initiator/pdu-reader.js';

export type Activity = 'pdu' | 'closed' | 'timeout';

export class RawConnection {
  readonly socket: net.Socket;
  /** Our port, kept after the close (the target logs it as `peer`). */
  readonly localPort: number;
  readonly pdus: TargetPdu[] = [];
  readonly closed: Promise<void>;
  /** The target sent bytes that do not frame or decode as a PDU (a target bug). */
  parseError: Error | undefined;
  #isClosed = false;
  #closedByUs = false;
  readonly #reader = new PduReader(() => ({ header: false, data: false }));
  #notify: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.localPort = socket.localPort ?? 0;
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#isClosed = true;
        this.#notify?.();
        resolve();
      });
    });
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk);
      try {
        for (let raw = this.#reader.next(); raw; raw = this.#reader.next())
          this.pdus.push(decodeTargetPdu(raw));
      } catch (err) {
        this.parseError ??= err as Error;
        socket.destroy();
      }
      this.#notify?.();
    });
  }

  static connect(host: string, port: number, timeoutMs = 5000): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`TCP connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RawConnection(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** The connection ended and we did not end it: the target closed (or reset) it. */
  get closedByPeer(): boolean {
    return this.#isClosed && !this.#closedByUs;
  }

  send(bytes: Uint8Array): void {
    if (!this.#isClosed && !this.socket.destroyed) this.socket.write(bytes);
  }

  /** Waits until more than `seen` PDUs have arrived, the connection closed, or `ms` passed. */
  async waitForActivity(seen: number, ms: number): Promise<Activity> {
    const end = Date.now() + ms;
    for (;;) {
      if (this.pdus.length > seen) return 'pdu';
      if (this.#isClosed) return 'closed';
      const left = end - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#notify = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#notify = undefined;
    }
  }

  close(): void {
    if (!this.#isClosed) this.#closedByUs = true;
    this.socket.destroy();
  }
}
