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
 * lends the engine the buffer the device writes from: a single piece that covers the transfer
 * as it is (no copy); otherwise the pieces are gathered once into a pool buffer and each pooled
 * piece goes back to the pool at once. The lent buffer stays this object's: release(), the one
 * release path, gives it back when the task ends, after the engine's completion (the device has
 * the data then). The engine never gives a data-out buffer to the pool.
 */
export class DataOut {
  #pieces: Piece[] = [];
  #bytes = 0;
  /** No more pieces are wanted (the task failed or ended): what arrives goes back at once. */
  #discarded = false;
  /** What take() lent the engine, while it is pooled memory. */
  #lent: Buffer | undefined;

  /** Bytes received so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Takes ownership of `data` (a pooled buffer goes back to the pool through this object). */
  add(offset: number, data: Buffer, pooled: boolean): void {
    if (this.#discarded) {
      if (pooled) ioBuffers.give(data);
      return;
    }
    if (data.length === 0) return;
    this.#pieces.push({ offset, data, pooled });
    this.#bytes += data.length;
  }

  /** Bytes [0, length), which the caller knows have all arrived; lent until release(). */
  take(length: number): Buffer {
    const pieces = this.#pieces;
    this.#pieces = [];
    this.#bytes = 0;
    const whole = pieces.length === 1 && pieces[0]!.offset === 0 && pieces[0]!.data.length >= length;
    if (whole) {
      dataOutStats.handedOver++;
      const p = pieces[0]!;
      if (p.pooled) this.#lend(p.data);
      return p.data.subarray(0, length);
    }
    dataOutStats.assemblies++;
    dataOutStats.assembledBytes += length;
    const pooled = ioBuffers.pools(length);
    const out = pooled ? ioBuffers.take(length) : Buffer.allocUnsafe(length);
    if (pooled) this.#lend(out);
    for (const p of pieces) {
      // Beyond the SCSI transfer length (EDTL larger than the CDB's): underflow, discarded.
      if (p.offset < length) p.data.copy(out, p.offset, 0, Math.min(p.data.length, length - p.offset));
      if (p.pooled) ioBuffers.give(p.data);
    }
    return out;
  }

  /** The task failed or was aborted: pieces not lent go back, later ones too. Idempotent. */
  discard(): void {
    this.#discarded = true;
    for (const p of this.#pieces) if (p.pooled) ioBuffers.give(p.data);
    this.#pieces = [];
    this.#bytes = 0;
  }

  /** The task ended (its completion arrived, the engine is done with it): everything goes back. */
  release(): void {
    this.discard();
    const lent = this.#lent;
    this.#lent = undefined;
    if (lent) ioBuffers.give(lent);
  }

  #lend(b: Buffer): void {
    // A task takes its data-out once (the engine reads it once per command).
    if (this.#lent) ioBuffers.give(this.#lent);
    this.#lent = b;
  }
}
