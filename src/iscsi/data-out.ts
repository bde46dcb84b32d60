import { ioBuffers } from '../util/buffer-pool.js';

/** One received piece of a task's data-out: where it goes, and whether the pool lent it. */
interface Piece {
  readonly offset: number;
  readonly data: Buffer;
  /** The reader gathered it (it spanned socket reads) into a buffer of `ioBuffers`. */
  readonly pooled: boolean;
}

/**
 * Copies of written data made in the transport, counted for the write path's measurement
 * (issue #11: at most one copy of written data in Tandem's own code).
 */
export const dataOutStats = { assemblies: 0, assembledBytes: 0, handedOver: 0 };

/**
 * The owner of one write's data-out (issue #11): every received piece (immediate data,
 * unsolicited and solicited Data-Out) is kept as received, never copied on arrival. take()
 * hands the engine the buffer the device writes from: a single piece that covers the transfer
 * is handed over as it is (no copy); otherwise the pieces are gathered once into a pool buffer
 * and each pooled piece goes back to the pool at once. Whatever is not handed over goes back
 * through release(), the one release path, when the task ends (done, aborted or failed).
 * A handed-over buffer belongs to the engine, which returns it after the device has it.
 */
export class DataOut {
  #pieces: Piece[] = [];
  #bytes = 0;
  #released = false;

  /** Bytes received so far. */
  get bytes(): number {
    return this.#bytes;
  }

  add(offset: number, data: Buffer, pooled: boolean): void {
    if (this.#released) {
      if (pooled) ioBuffers.give(data);
      return;
    }
    if (data.length === 0) return;
    this.#pieces.push({ offset, data, pooled });
    this.#bytes += data.length;
  }

  /** Bytes [0, length), which the caller knows have all arrived. */
  take(length: number): Buffer {
    const pieces = this.#pieces;
    this.#pieces = [];
    this.#bytes = 0;
    const whole = pieces.length === 1 && pieces[0]!.offset === 0 && pieces[0]!.data.length >= length;
    if (whole) {
      dataOutStats.handedOver++;
      return pieces[0]!.data.subarray(0, length);
    }
    dataOutStats.assemblies++;
    dataOutStats.assembledBytes += length;
    const out = ioBuffers.pools(length) ? ioBuffers.take(length) : Buffer.allocUnsafe(length);
    for (const p of pieces) {
      // Beyond the SCSI transfer length (EDTL larger than the CDB's): underflow, discarded.
      if (p.offset < length) p.data.copy(out, p.offset, 0, Math.min(p.data.length, length - p.offset));
      if (p.pooled) ioBuffers.give(p.data);
    }
    return out;
  }

  /** The task ended: pooled pieces not handed over go back to the pool. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const p of this.#pieces) if (p.pooled) ioBuffers.give(p.data);
    this.#pieces = [];
    this.#bytes = 0;
  }
}
