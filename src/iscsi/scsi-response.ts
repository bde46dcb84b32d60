import type { Completion } from '../scsi/command.js';
import { ScsiStatus } from '../scsi/spec/status.js';
import { taskSetFullStatus } from '../scsi/task-set.js';
import type { NegotiatedParams } from './params.js';
import * as out from './pdu/target-pdus.js';
import type { PduWriter } from './pdu-writer.js';
import type { IscsiTask } from './task.js';

const EMPTY = Buffer.alloc(0);

interface StatusFields {
  status: number;
  overflow: boolean;
  underflow: boolean;
  residual: number;
}

/** Bytes of a completion's data-in the initiator gets: at most its EDTL (RFC 7143 11.4.5). */
export function dataInLength(task: IscsiTask, c: Completion): number {
  return c.data ? Math.min(c.data.length, task.expectedLength) : 0;
}

/**
 * A task's answer on the wire: its Data-In PDUs, split at MaxRecvDataSegmentLength and
 * MaxBurstLength, and its SCSI Response (collapsed into the last Data-In when GOOD without
 * sense, RFC 7143 11.7.4), with residuals from EDTL and the transfer length (RFC 7143 11.4.5).
 */
export class ScsiResponder {
  readonly #writer: PduWriter;
  readonly #seq: (advance: boolean) => out.SeqFields;
  readonly #params: () => NegotiatedParams;

  constructor(writer: PduWriter, seq: (advance: boolean) => out.SeqFields, params: () => NegotiatedParams) {
    this.#writer = writer;
    this.#seq = seq;
    this.#params = params;
  }

  /**
   * Sends `c` for `task`. `sent` runs once the kernel has the last Data-In (when there is
   * data-in: dataInLength > 0), so the completion's buffer can go back to its owner then.
   */
  respond(task: IscsiTask, c: Completion, sent: (() => void) | undefined): void {
    const edtl = task.expectedLength;
    const xfer = c.transferLength;
    const overflow = xfer > edtl;
    const underflow = xfer < edtl;
    const residual = overflow ? xfer - edtl : underflow ? edtl - xfer : 0;
    const sendLen = dataInLength(task, c);
    const collapse = c.status === ScsiStatus.GOOD && !c.sense;
    let dataIns = 0;
    if (sendLen > 0) {
      dataIns = this.#dataIn(
        task,
        c.data!,
        sendLen,
        collapse ? { status: c.status, overflow, underflow, residual } : undefined,
        sent,
      );
      if (collapse) return;
    }
    let sense = EMPTY;
    if (c.sense) {
      // RFC 7143 11.4.7: SenseLength (2 bytes) then the sense data.
      sense = Buffer.allocUnsafe(2 + c.sense.length);
      sense.writeUInt16BE(c.sense.length, 0);
      c.sense.copy(sense, 2);
    }
    this.#send(
      out.scsiResponse(
        // ExpDataSN: the R2T and Data-In PDUs this task produced (RFC 7143 11.4.8).
        {
          itt: task.itt,
          status: c.status,
          overflow,
          underflow,
          residual,
          expDataSN: dataIns + task.r2tCount,
        },
        this.#seq(true),
      ),
      sense,
    );
  }

  /** The session's share of the task set is full (SAM-5 5.3.3): the command does not run. */
  taskSetFull(itt: number, edtl: number, running: number): void {
    this.#send(
      out.scsiResponse(
        {
          itt,
          status: taskSetFullStatus(running),
          overflow: false,
          underflow: edtl > 0,
          residual: edtl,
          expDataSN: 0,
        },
        this.#seq(true),
      ),
    );
  }

  #send(hdr: Buffer, data: Buffer = EMPTY): void {
    this.#writer.batch();
    this.#writer.write(hdr, data);
  }

  #dataIn(
    task: IscsiTask,
    data: Buffer,
    length: number,
    status: StatusFields | undefined,
    sent: (() => void) | undefined,
  ): number {
    const p = this.#params();
    const mrdsl = p.initiatorMaxRecvDataSegmentLength;
    const burst = p.maxBurstLength;
    let dataSN = 0;
    let inBurst = 0;
    this.#writer.batch();
    for (let off = 0; off < length; ) {
      const n = Math.min(mrdsl, length - off, burst - inBurst);
      const last = off + n === length;
      inBurst += n;
      const endOfBurst = inBurst === burst;
      if (endOfBurst) inBurst = 0;
      const withStatus = last && status !== undefined;
      const hdr = out.dataIn(
        {
          itt: task.itt,
          lunBytes: task.lunBytes,
          final: last || endOfBurst,
          dataSN: dataSN++,
          offset: off,
          ...(withStatus ? status : {}),
        },
        this.#seq(withStatus),
      );
      off += n;
      this.#writer.write(hdr, data.subarray(off - n, off), off === length ? sent : undefined);
    }
    return dataSN;
  }
}
