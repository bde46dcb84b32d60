import { Limits } from '../scsi/limits.js';
import { ioBuffers } from '../util/buffer-pool.js';
import { poolMemoryOf } from './pdu-reader.js';

/** One received piece of a task's data-out: where it goes, and whether the pool lent it. */
interface Piece {
  readonly offset: number;
  readonly data: Buffer;
  /** The reader gathered it (it spanned socket reads) into a buffer of `ioBuffers`. */
  readonly pooled: boolean;
  /** The reader gathered it straight into the destination at its offset: already in place. */
  readonly placed: boolean;
}

/**
 * Copies of written data made in the transport, counted for the write path's measurement
 * (issue #11: at most one copy of written data in Tandem's own code). `placedBytes`: bytes the
 * reader gathered straight into a destination (their one copy); `assembledBytes`: bytes copied
 * into the destination at take() (pieces that arrived as views of one socket read).
 */
export const dataOutStats = { assemblies: 0, assembledBytes: 0, handedOver: 0, placedBytes: 0 };

/**
 * The owner of one write's data-out (issue #11). Every received piece (immediate data,
 * unsolicited and solicited Data-Out) is either placed (the reader gathered a segment that
 * spanned socket reads straight into this object's destination, at its buffer offset:
 * destination()) or kept as received, never copied on arrival. take() lends the engine the
 * buffer the device writes from: a single kept piece that covers the transfer as it is (no
 * copy); otherwise the destination, into which the kept pieces are copied once (pooled ones go
 * back to the pool at once). Each byte is thus copied at most once. The lent buffer stays this
 * object's: release(), the one release path, gives it back when the task ends, after the
 * engine's completion (the device has the data then). The engine never gives a data-out buffer
 * to the pool.
 */
export class DataOut {
  readonly #capacity: number;
  #pieces: Piece[] = [];
  #bytes = 0;
  /** No more pieces are wanted (the task failed or ended): what arrives goes back at once. */
  #discarded = false;
  /** take() ran: the destination is the engine's to read, nothing more is placed into it. */
  #taken = false;
  /** Where the transfer is assembled, allocated once (capacity bytes), from the pool if it pools. */
  #dest: Buffer | undefined;
  /** What take() lent the engine, while it is pooled memory. */
  #lent: Buffer | undefined;

  /** `capacity`: the write's expected data transfer length (RFC 7143 11.3.5), 0 if unknown. */
  constructor(capacity = 0) {
    this.#capacity = capacity;
  }

  /** Bytes received so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Where `length` bytes at `offset` are gathered by the reader: a view of the destination, or
   * undefined when they cannot go there (beyond the capacity, a capacity the device server never
   * accepts, or the data-out taken or discarded). The caller asks only for bytes not received
   * yet (the next PDU its data sequence expects), so nothing accepted is overwritten; the bytes
   * count once add() is given this view (the PDU's digest checked out).
   */
  destination(offset: number, length: number): Buffer | undefined {
    if (this.#discarded || this.#taken || length === 0) return undefined;
    if (this.#capacity > Limits.maxTransferBytes || offset + length > this.#capacity) return undefined;
    const dest = this.#destination(this.#capacity);
    return dest.subarray(offset, offset + length);
  }

  /** Takes ownership of `data` (a pooled buffer goes back to the pool through this object). */
  add(offset: number, data: Buffer, pooled: boolean): void {
    if (this.#discarded) {
      if (pooled) ioBuffers.give(poolMemoryOf(data));
      return;
    }
    if (data.length === 0) return;
    if (pooled && this.#dest === undefined && this.#fitsTransfer(offset, data)) {
      // The reader gathered it into a pool buffer of the whole transfer (immediate data of a
      // WRITE that continues in Data-Out): that buffer is the destination, nothing to copy.
      this.#dest = poolMemoryOf(data);
    }
    const placed = this.#isPlaced(offset, data);
    if (placed) dataOutStats.placedBytes += data.length;
    this.#pieces.push({ offset, data, pooled: pooled && !placed, placed });
    this.#bytes += data.length;
  }

  /** Bytes [0, length), which the caller knows have all arrived; lent until release(). */
  take(length: number): Buffer {
    this.#taken = true;
    const p0 = this.#pieces[0];
    if (this.#pieces.length === 1 && !p0!.placed && p0!.offset === 0 && p0!.data.length >= length) {
      this.#pieces = [];
      this.#bytes = 0;
      dataOutStats.handedOver++;
      if (p0!.pooled) this.#lend(p0!.data);
      return p0!.data.subarray(0, length);
    }
    const dest = this.#destination(length);
    const pieces = this.#pieces;
    this.#pieces = [];
    this.#bytes = 0;
    this.#lend(dest);
    let copied = 0;
    for (const p of pieces) {
      // Beyond the SCSI transfer length (EDTL larger than the CDB's): underflow, discarded.
      if (!p.placed && p.offset < length) {
        const n = Math.min(p.data.length, length - p.offset);
        p.data.copy(dest, p.offset, 0, n);
        copied += n;
      }
      if (p.pooled) ioBuffers.give(poolMemoryOf(p.data));
    }
    if (copied > 0) {
      dataOutStats.assemblies++;
      dataOutStats.assembledBytes += copied;
    }
    return dest.length === length ? dest : dest.subarray(0, length);
  }

  /** The task failed or was aborted: pieces not lent go back, later ones too. Idempotent. */
  discard(): void {
    this.#discarded = true;
    for (const p of this.#pieces) if (p.pooled) ioBuffers.give(poolMemoryOf(p.data));
    this.#pieces = [];
    this.#bytes = 0;
  }

  /** The task ended (its completion arrived, the engine is done with it): everything goes back. */
  release(): void {
    this.discard();
    const lent = this.#lent;
    const dest = this.#dest;
    this.#lent = undefined;
    this.#dest = undefined;
    if (lent) ioBuffers.give(poolMemoryOf(lent));
    if (dest && dest !== lent) ioBuffers.give(dest);
  }

  /** The destination, allocated on first use; a larger `size` (never expected) replaces it. */
  #destination(size: number): Buffer {
    const have = this.#dest;
    if (have && have.length >= size) return have;
    // Its own memory (never a slice of a shared slab): placed pieces are told by it.
    const dest = ioBuffers.pools(size) ? ioBuffers.take(size) : Buffer.allocUnsafeSlow(size);
    if (have) {
      // Placed pieces are views of the old destination: they move with it.
      for (const p of this.#pieces) if (p.data.buffer === have.buffer) p.data.copy(dest, p.offset);
      this.#pieces = this.#pieces.filter((p) => p.data.buffer !== have.buffer);
      ioBuffers.give(have);
    }
    this.#dest = dest;
    return dest;
  }

  /** `data` at `offset` starts a buffer of exactly the transfer, and is not all of it. */
  #fitsTransfer(offset: number, data: Buffer): boolean {
    const c = this.#capacity;
    return (
      offset === 0 &&
      data.byteOffset === 0 &&
      data.buffer.byteLength === c &&
      data.length < c &&
      c <= Limits.maxTransferBytes
    );
  }

  #isPlaced(offset: number, data: Buffer): boolean {
    const dest = this.#dest;
    return (
      dest !== undefined &&
      data.buffer === dest.buffer &&
      data.byteOffset === dest.byteOffset + offset &&
      offset + data.length <= dest.length
    );
  }

  #lend(b: Buffer): void {
    // A task takes its data-out once (the engine reads it once per command).
    if (this.#lent && this.#lent !== b) ioBuffers.give(this.#lent);
    this.#lent = b;
  }
}
