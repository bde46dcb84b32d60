import type { ItNexus, TransportCommand } from './command.js';
import { TaskAttribute, type TaskAttributeCode } from './spec/status.js';

const EMPTY = Buffer.alloc(0);

/**
 * A READ or WRITE the copy manager issues for one step of an EXTENDED COPY segment (SPC-4
 * 6.4): a command of the issuing I_T nexus on the copy target's LUN, so that the gate checks it
 * exactly as it would the initiator's own (DESIGN.md Trust). It is aborted with its EXTENDED
 * COPY, and on its own by a TMF or reset of the copy target's LU.
 */
export class CopyManagerCommand implements TransportCommand {
  readonly nexus: ItNexus;
  readonly lun: number;
  readonly tag: number;
  readonly cdb: Buffer;
  /**
   * HEAD OF QUEUE (SAM-5 8.6.4): the EXTENDED COPY already holds its place in its own task
   * set; an ORDERED task queued behind it on the copy target must not hold its I/O back, or
   * the two would wait for each other.
   */
  readonly attribute: TaskAttributeCode = TaskAttribute.HEAD_OF_QUEUE;
  readonly expectedLength: number;
  readonly readExpected: boolean;
  readonly writeExpected: boolean;
  readonly signal: { readonly aborted: boolean };
  readonly #dataOut: Buffer;
  #aborted = false;

  /** `dataOut`: the data a WRITE carries (absent: a READ of `readLength` bytes). */
  constructor(
    parent: TransportCommand,
    lun: number,
    cdb: Buffer,
    io: { dataOut?: Buffer; readLength?: number },
  ) {
    this.nexus = parent.nexus;
    this.lun = lun;
    this.tag = parent.tag;
    this.cdb = cdb;
    this.#dataOut = io.dataOut ?? EMPTY;
    this.writeExpected = io.dataOut !== undefined;
    this.readExpected = !this.writeExpected;
    this.expectedLength = this.writeExpected ? this.#dataOut.length : (io.readLength ?? 0);
    const self = this;
    this.signal = {
      get aborted() {
        return self.#aborted || parent.signal.aborted;
      },
    };
  }

  abort(): void {
    this.#aborted = true;
  }

  receiveDataOut(length: number): Promise<Buffer> {
    if (this.signal.aborted) return Promise.reject(new Error('task aborted'));
    if (length > this.#dataOut.length) {
      return Promise.reject(new Error(`copy data-out has ${this.#dataOut.length} bytes, ${length} wanted`));
    }
    return Promise.resolve(this.#dataOut.subarray(0, length));
  }
}
