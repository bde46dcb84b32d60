import type { ItNexus, TransportCommand } from '../scsi/command.js';
import type { TaskAttributeCode } from '../scsi/spec/status.js';
import { ioBuffers } from '../util/buffer-pool.js';
import { DataOut } from './data-out.js';
import { field32, InitiatorOpcode, itt as ittOf, opcodeOf, RESERVED_TAG } from './pdu/bhs.js';
import type { SegmentPlacement, SegmentPlacer } from './pdu-reader.js';

/**
 * How much larger than its immediate data a WRITE's whole transfer may be for the reader to
 * gather that data into a buffer for the whole transfer. The buffer is taken before the command
 * is admitted, and a command held back (memory budget, CmdSN order) is counted at its data
 * segment's size: the bound keeps that count within this factor of what is held.
 */
const ROOM_FACTOR = 4;

/**
 * A Data-Out PDU that breaks the task's data sequence (DataSN, offset, length, TTT). At ERL 0
 * it cannot be recovered: the PDU is rejected and the task ends with CHECK CONDITION
 * (RFC 7143 11.17.1); the connection and the other tasks carry on.
 */
export class DataSequenceError extends Error {}

/**
 * The reader's placer for one connection's tasks (issue #11): the data segment of a SCSI
 * Data-Out PDU (RFC 7143 11.7: ITT, TTT, DataSN and Buffer Offset are in its header) is
 * gathered straight into its task's data-out at that offset, when the task expects it next;
 * the immediate data of a WRITE whose transfer continues in Data-Out PDUs into a pool buffer
 * for the whole transfer (EDTL, RFC 7143 11.3.5), which its task then assembles in.
 */
export function dataOutPlacer(task: (itt: number) => IscsiTask | undefined): SegmentPlacer {
  return (bhs, length) => {
    const op = opcodeOf(bhs);
    if (op === InitiatorOpcode.SCSI_COMMAND) return transferRoom(bhs, length);
    if (op !== InitiatorOpcode.SCSI_DATA_OUT) return undefined;
    const into = task(ittOf(bhs))?.placement(field32(bhs, 20), field32(bhs, 36), field32(bhs, 40), length);
    return into && { into, pooled: false };
  };
}

function transferRoom(bhs: Buffer, length: number): SegmentPlacement | undefined {
  const write = (bhs[1]! & 0x20) !== 0;
  const edtl = field32(bhs, 20);
  if (!write || edtl <= length || edtl > ROOM_FACTOR * length || !ioBuffers.pools(edtl)) return undefined;
  return { into: ioBuffers.take(edtl).subarray(0, length), pooled: true };
}

/** What a task needs from its connection to solicit data (R2T). */
export interface R2tSender {
  sendR2t(task: IscsiTask, ttt: number, r2tSN: number, offset: number, length: number): void;
  allocateTtt(): number;
}

interface OutstandingR2t {
  offset: number;
  length: number;
  received: number;
  nextDataSN: number;
}

export interface IscsiTaskInit {
  itt: number;
  cmdSN: number;
  lun: number;
  lunBytes: Buffer;
  cdb: Buffer;
  attribute: TaskAttributeCode;
  expectedLength: number;
  read: boolean;
  write: boolean;
  nexus: ItNexus;
  immediateData: Buffer;
  /**
   * The immediate data was gathered into a pool buffer (Pdu.pooled): its own, or the first bytes
   * of one for the whole transfer, which becomes the task's destination (dataOutPlacer).
   */
  immediatePooled?: boolean;
  /** Bytes the initiator may send without R2T, immediate data included (RFC 7143 4.2.5.2). */
  unsolicitedLimit: number;
  maxBurstLength: number;
  maxOutstandingR2T: number;
}

/**
 * One SCSI task on an iSCSI connection: the transport side of a TransportCommand. It gathers
 * data-out from immediate data, unsolicited Data-Out PDUs and R2T-solicited bursts.
 */
export class IscsiTask implements TransportCommand {
  readonly itt: number;
  readonly cmdSN: number;
  readonly lun: number;
  readonly lunBytes: Buffer;
  readonly cdb: Buffer;
  readonly attribute: TaskAttributeCode;
  readonly expectedLength: number;
  readonly readExpected: boolean;
  readonly writeExpected: boolean;
  readonly nexus: ItNexus;
  /** performance.now() stamps for per-stage latency (0: not kept); the connection sets them. */
  arrivedAt = 0;
  dataOutAt = 0;
  /** Its response was queued for sending. */
  readyAt = 0;
  readonly #signal = { aborted: false };
  readonly #sender: R2tSender;
  readonly #unsolicitedLimit: number;
  readonly #maxBurst: number;
  readonly #maxR2t: number;
  /** Unsolicited bytes received so far (immediate data included), contiguous from 0. */
  #unsolicitedReceived: number;
  #unsolicitedDataSN = 0;
  /** Every byte of data-out received, placed or kept as received until the engine takes it. */
  readonly #dataOut: DataOut;
  #need = 0;
  #solicitedNext = 0;
  #r2tSN = 0;
  readonly #r2ts = new Map<number, OutstandingR2t>();
  #failed: DataSequenceError | undefined;
  #resolve: ((b: Buffer) => void) | undefined;
  #reject: ((e: Error) => void) | undefined;

  constructor(init: IscsiTaskInit, sender: R2tSender) {
    this.itt = init.itt;
    this.cmdSN = init.cmdSN;
    this.lun = init.lun;
    this.lunBytes = init.lunBytes;
    this.cdb = init.cdb;
    this.attribute = init.attribute;
    this.expectedLength = init.expectedLength;
    this.readExpected = init.read;
    this.writeExpected = init.write;
    this.nexus = init.nexus;
    this.#sender = sender;
    this.#unsolicitedLimit = init.unsolicitedLimit;
    this.#maxBurst = init.maxBurstLength;
    this.#maxR2t = init.maxOutstandingR2T;
    this.#unsolicitedReceived = init.immediateData.length;
    this.#dataOut = new DataOut(init.write ? init.expectedLength : 0);
    this.#dataOut.add(0, init.immediateData, init.immediatePooled ?? false);
  }

  get tag(): number {
    return this.itt;
  }

  get signal(): { readonly aborted: boolean } {
    return this.#signal;
  }

  abort(): void {
    if (this.#signal.aborted) return;
    this.#signal.aborted = true;
    this.#fail(new Error('task aborted'));
  }

  /** Whether the initiator still owes us unsolicited data for this task. */
  get expectsUnsolicited(): boolean {
    return this.#unsolicitedReceived < this.#unsolicitedLimit;
  }

  receiveDataOut(length: number): Promise<Buffer> {
    if (this.#signal.aborted) return Promise.reject(new Error('task aborted'));
    if (this.#failed) return Promise.reject(this.#failed);
    if (length === 0) return Promise.resolve(Buffer.alloc(0));
    this.#need = length;
    this.#solicitedNext = Math.min(this.#unsolicitedLimit, length);
    return new Promise<Buffer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#issueR2ts();
      this.#maybeDone();
    });
  }

  /**
   * A Data-Out PDU for this task (RFC 7143 11.7). A violation fails the task's data-out and
   * throws DataSequenceError for the connection to reject the PDU.
   */
  onDataOut(ttt: number, dataSN: number, offset: number, data: Buffer, pooled = false): void {
    // The task owns `data` from here: kept, or (failed task, rejected PDU) given back at once.
    if (this.#failed) {
      this.#dataOut.add(offset, data, pooled);
      return;
    }
    try {
      this.#onDataOut(ttt, dataSN, offset, data, pooled);
    } catch (err) {
      if (err instanceof DataSequenceError) {
        this.#failed = err;
        this.#fail(err);
        // Nothing of a PDU that broke the sequence was kept: a pooled buffer goes back.
        this.#dataOut.add(offset, data, pooled);
      }
      throw err;
    }
  }

  /**
   * Where the data segment of a Data-Out PDU for this task goes, asked by the reader before it
   * gathers a segment that spans socket reads (issue #11: gathered once, straight into the
   * buffer the device writes from). Only the PDU its data sequence expects next is placed: an
   * out-of-order, duplicate or out-of-range PDU is gathered apart and fails in onDataOut, so no
   * accepted byte is ever overwritten. Its bytes count only once onDataOut receives them (the
   * reader verified the data digest first).
   */
  placement(ttt: number, dataSN: number, offset: number, length: number): Buffer | undefined {
    if (this.#failed || this.#signal.aborted) return undefined;
    if (this.#sequenceError(ttt, dataSN, offset, length) !== undefined) return undefined;
    return this.#dataOut.destination(offset, length);
  }

  /** Why a Data-Out PDU breaks this task's data sequence (RFC 7143 11.7), or undefined. */
  #sequenceError(ttt: number, dataSN: number, offset: number, length: number): string | undefined {
    if (ttt === RESERVED_TAG) {
      if (dataSN !== this.#unsolicitedDataSN) {
        return `unsolicited Data-Out DataSN ${dataSN}, expected ${this.#unsolicitedDataSN}`;
      }
      if (offset !== this.#unsolicitedReceived) {
        return `unsolicited Data-Out at offset ${offset}, expected ${this.#unsolicitedReceived}`;
      }
      if (offset + length > this.#unsolicitedLimit) {
        return `unsolicited data beyond FirstBurstLength/EDTL (${offset + length} > ${this.#unsolicitedLimit})`;
      }
      return undefined;
    }
    const r = this.#r2ts.get(ttt);
    if (!r) return `Data-Out with unknown Target Transfer Tag 0x${ttt.toString(16)}`;
    if (dataSN !== r.nextDataSN) return `Data-Out DataSN ${dataSN}, expected ${r.nextDataSN}`;
    if (offset !== r.offset + r.received) {
      return `Data-Out at offset ${offset}, expected ${r.offset + r.received}`;
    }
    if (r.received + length > r.length) return 'Data-Out beyond the R2T desired length';
    return undefined;
  }

  #onDataOut(ttt: number, dataSN: number, offset: number, data: Buffer, pooled: boolean): void {
    const why = this.#sequenceError(ttt, dataSN, offset, data.length);
    if (why !== undefined) throw new DataSequenceError(why);
    if (ttt === RESERVED_TAG) {
      this.#unsolicitedDataSN++;
      this.#unsolicitedReceived += data.length;
      this.#dataOut.add(offset, data, pooled);
      this.#maybeDone();
      return;
    }
    const r = this.#r2ts.get(ttt)!;
    r.nextDataSN++;
    r.received += data.length;
    this.#dataOut.add(offset, data, pooled);
    if (r.received === r.length) {
      this.#r2ts.delete(ttt);
      this.#issueR2ts();
    }
    this.#maybeDone();
  }

  /** R2Ts sent for this task so far (they count in the response's ExpDataSN). */
  get r2tCount(): number {
    return this.#r2tSN;
  }

  /** The engine asked for data-out that has not all arrived yet. */
  get awaitingDataOut(): boolean {
    return this.#resolve !== undefined;
  }

  /** Outstanding R2T TTTs (for the connection's lookup). */
  ownsTtt(ttt: number): boolean {
    return this.#r2ts.has(ttt);
  }

  #issueR2ts(): void {
    while (this.#r2ts.size < this.#maxR2t && this.#solicitedNext < this.#need) {
      const length = Math.min(this.#maxBurst, this.#need - this.#solicitedNext);
      const ttt = this.#sender.allocateTtt();
      this.#r2ts.set(ttt, { offset: this.#solicitedNext, length, received: 0, nextDataSN: 0 });
      this.#sender.sendR2t(this, ttt, this.#r2tSN++, this.#solicitedNext, length);
      this.#solicitedNext += length;
    }
  }

  #maybeDone(): void {
    if (!this.#resolve) return;
    const unsolicitedNeeded = Math.min(this.#unsolicitedLimit, this.#need);
    if (this.#unsolicitedReceived < unsolicitedNeeded) return;
    if (this.#solicitedNext < this.#need || this.#r2ts.size > 0) return;
    const resolve = this.#resolve;
    this.#resolve = undefined;
    this.#reject = undefined;
    resolve(this.#dataOut.take(this.#need));
  }

  /**
   * The engine's completion for this task arrived: its data-out, the buffer lent to the engine
   * included, goes back to the pool. Called once the engine is done with it, never before.
   */
  release(): void {
    this.#dataOut.release();
  }

  #fail(err: Error): void {
    const reject = this.#reject;
    this.#resolve = undefined;
    this.#reject = undefined;
    // The engine may hold a buffer already lent (a device write in progress): only what it was
    // not lent goes back now; the rest at release().
    this.#dataOut.discard();
    this.#r2ts.clear();
    reject?.(err);
  }
}
