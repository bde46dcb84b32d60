import { ioBuffers } from '../util/buffer-pool.js';
import { crc32c, readDigest } from '../util/crc32c.js';
import { ProtocolError } from '../util/errors.js';
import { BHS_LENGTH, dataSegmentLength, type Pdu, pad4, totalAhsLength } from './pdu/bhs.js';

/** Login PDUs may carry at most 8192 bytes (RFC 7143 13.12, the default before negotiation). */
export const LOGIN_MAX_DATA = 8192;
const DIGEST_LENGTH = 4;
const EMPTY = Buffer.alloc(0);

/** SPDK's `enum iscsi_pdu_recv_state`: where the reader is inside the current PDU. */
export type RecvState =
  | 'await-bhs'
  | 'await-ahs'
  | 'await-header-digest'
  | 'await-data'
  | 'await-data-digest';

/**
 * What the reader hands over: a whole PDU whose digests checked out, or a PDU whose data
 * digest did not (its header is sound, so the connection can answer it: RFC 7143 7.8).
 */
export type ReaderEvent =
  | { readonly kind: 'pdu'; readonly pdu: Pdu }
  | { readonly kind: 'data-digest-error'; readonly bhs: Buffer };

/**
 * Where a data segment that spans socket reads is gathered (issue #11): `into`, exactly the
 * segment's length, becomes the PDU's data. `pooled`: `into` is a view of pool memory that goes
 * with the PDU (Pdu.pooled: releasePduData gives the whole buffer back); otherwise it belongs to
 * whoever set it aside (a task's data-out), which counts the bytes only when the PDU is handed
 * over (a data digest error hands over only the header).
 */
export interface SegmentPlacement {
  readonly into: Buffer;
  readonly pooled: boolean;
}

/** Where the data segment of the PDU whose verified header is `bhs` goes; undefined: a pool buffer. */
export type SegmentPlacer = (bhs: Buffer, length: number) => SegmentPlacement | undefined;

/**
 * The whole pool buffer a pooled view starts (pool buffers are their own memory, from offset 0):
 * what goes back to the pool for a segment gathered into part of it.
 */
export function poolMemoryOf(data: Buffer): Buffer {
  if (data.byteOffset !== 0 || data.length === data.buffer.byteLength) return data;
  return Buffer.from(data.buffer, 0, data.buffer.byteLength);
}

/**
 * Gives a handled PDU's data back to the pool when the reader gathered it there (Pdu.pooled);
 * once, whoever calls it again. The PDU's data must not be used after.
 */
export function releasePduData(pdu: Pdu): void {
  if (!pdu.pooled) return;
  pdu.pooled = false;
  ioBuffers.give(poolMemoryOf(pdu.data));
}

/**
 * The receive state machine of one connection (STYLE.md): fed byte chunks, it yields whole PDUs
 * in order. header → AHS → header digest → data (+ padding) → data digest; each digest is checked
 * before the PDU leaves the reader. A bad header digest or an oversized data segment is a
 * ProtocolError (the lengths that follow cannot be trusted). It knows nothing of sockets.
 */
export class PduReader {
  #chunks: Buffer[] = [];
  #avail = 0;
  #state: RecvState = 'await-bhs';
  #bhs: Buffer = EMPTY;
  #ahs: Buffer = EMPTY;
  #data: Buffer = EMPTY;
  /** #data was gathered into a buffer lent by `ioBuffers` (it spanned socket reads). */
  #dataPooled = false;
  /** CRC32C of the data segment and its padding, computed as they are taken. */
  #dataCrc = 0;
  #gathered = false;
  #headerDigest = false;
  #dataDigest = false;
  #maxDataSegment = LOGIN_MAX_DATA;
  readonly #onHeader: (() => void) | undefined;
  readonly #placer: SegmentPlacer | undefined;

  /**
   * `onHeader` runs when a PDU's header has been verified (the receive-stage stamp); `placer`
   * says where a data segment that spans socket reads goes, when its owner knows.
   */
  constructor(onHeader?: () => void, placer?: SegmentPlacer) {
    this.#onHeader = onHeader;
    this.#placer = placer;
  }

  get state(): RecvState {
    return this.#state;
  }

  /** Bytes received and not yet consumed by a PDU. */
  get buffered(): number {
    return this.#avail;
  }

  /**
   * Digests and the receive limit for the PDUs after the current one (RFC 7143 13.1, 13.12:
   * they apply from the first PDU after the final login response).
   */
  configure(opts: { headerDigest: boolean; dataDigest: boolean; maxDataSegment: number }): void {
    this.#headerDigest = opts.headerDigest;
    this.#dataDigest = opts.dataDigest;
    this.#maxDataSegment = opts.maxDataSegment;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#avail += chunk.length;
  }

  /** Drops what is buffered (the connection closed). */
  clear(): void {
    this.#chunks = [];
    this.#avail = 0;
    this.#state = 'await-bhs';
    this.#dropData();
  }

  /** The data segment in progress is not handed over: a pooled buffer goes back. */
  #dropData(): void {
    if (this.#dataPooled) ioBuffers.give(poolMemoryOf(this.#data));
    this.#dataPooled = false;
    this.#data = EMPTY;
  }

  /** The next complete PDU, or undefined until more bytes are pushed. */
  next(): ReaderEvent | undefined {
    for (;;) {
      switch (this.#state) {
        case 'await-bhs': {
          if (this.#avail < BHS_LENGTH) return undefined;
          // A private copy: the header outlives the chunk it came in (CmdSN queue, Reject).
          this.#bhs = Buffer.from(this.#take(BHS_LENGTH));
          this.#state = 'await-ahs';
          break;
        }
        case 'await-ahs': {
          const n = totalAhsLength(this.#bhs);
          if (this.#avail < n) return undefined;
          this.#ahs = n === 0 ? EMPTY : Buffer.from(this.#take(n));
          this.#state = 'await-header-digest';
          break;
        }
        case 'await-header-digest': {
          if (this.#headerDigest) {
            if (this.#avail < DIGEST_LENGTH) return undefined;
            const d = readDigest(this.#take(DIGEST_LENGTH), 0);
            // A bad header digest means the lengths cannot be trusted: drop the connection.
            if (d !== crc32c(this.#bhs, this.#ahs)) {
              throw new ProtocolError('header digest mismatch', 'TANDEM_ERR_ISCSI_DIGEST');
            }
          }
          const dsl = dataSegmentLength(this.#bhs);
          if (dsl > this.#maxDataSegment) {
            throw new ProtocolError(
              `data segment of ${dsl} bytes exceeds MaxRecvDataSegmentLength ${this.#maxDataSegment}`,
              'TANDEM_ERR_ISCSI_PDU_TOO_LARGE',
            );
          }
          this.#state = 'await-data';
          this.#onHeader?.();
          break;
        }
        case 'await-data': {
          const dsl = dataSegmentLength(this.#bhs);
          if (dsl === 0) {
            // No data segment: no padding and no data digest either (RFC 7143 11.2.4).
            this.#data = EMPTY;
            return this.#emit();
          }
          const padded = dsl + pad4(dsl);
          if (this.#avail < padded) return undefined;
          const pad = padded - dsl;
          const inOneRead = this.#chunks[0]!.length >= dsl;
          let placed = inOneRead ? undefined : this.#placer?.(this.#bhs, dsl);
          if (placed && placed.into.length !== dsl) {
            if (placed.pooled) ioBuffers.give(poolMemoryOf(placed.into));
            placed = undefined;
          }
          if (inOneRead || placed) {
            // In one socket read: a view, no copy. Otherwise the one copy of these bytes,
            // straight to where they are written from. The padding is not data.
            if (placed) this.#gatherInto(placed.into);
            this.#data = placed?.into ?? this.#take(dsl);
            this.#dataPooled = placed?.pooled ?? false;
            const padding = pad === 0 ? EMPTY : this.#take(pad);
            if (this.#dataDigest) this.#dataCrc = crc32c(this.#data, padding);
          } else {
            this.#data = this.#take(padded);
            this.#dataPooled = this.#gathered;
            // Digested now: the bytes are what was received, whatever happens to them before
            // the digest itself arrives.
            if (this.#dataDigest) this.#dataCrc = crc32c(this.#data);
          }
          this.#state = 'await-data-digest';
          break;
        }
        case 'await-data-digest': {
          const padded = this.#data;
          const dsl = dataSegmentLength(this.#bhs);
          if (this.#dataDigest) {
            if (this.#avail < DIGEST_LENGTH) return undefined;
            const d = readDigest(this.#take(DIGEST_LENGTH), 0);
            if (d !== this.#dataCrc) {
              this.#state = 'await-bhs';
              this.#dropData();
              return { kind: 'data-digest-error', bhs: this.#bhs };
            }
          }
          this.#data = padded.subarray(0, dsl);
          return this.#emit();
        }
      }
    }
  }

  #emit(): ReaderEvent {
    const pdu: Pdu = { bhs: this.#bhs, ahs: this.#ahs, data: this.#data, pooled: this.#dataPooled };
    this.#dataPooled = false;
    this.#state = 'await-bhs';
    this.#bhs = EMPTY;
    this.#ahs = EMPTY;
    this.#data = EMPTY;
    return { kind: 'pdu', pdu };
  }

  /** `into.length` bytes off the front, copied into `into`. */
  #gatherInto(into: Buffer): void {
    const n = into.length;
    this.#avail -= n;
    let off = 0;
    while (off < n) {
      const c = this.#chunks[0]!;
      const k = Math.min(c.length, n - off);
      c.copy(into, off, 0, k);
      off += k;
      if (k === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
  }

  /** `n` bytes off the front: a view when they lie in one chunk, else gathered once. */
  #take(n: number): Buffer {
    this.#gathered = false;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      this.#avail -= n;
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.length === n ? first : first.subarray(0, n);
    }
    // A data segment split across socket reads is gathered into a pooled buffer: WRITE
    // returns it once the backing store has the data (allocation churn costs more in GC).
    const out = ioBuffers.pools(n) ? ioBuffers.take(n) : Buffer.allocUnsafe(n);
    this.#gathered = ioBuffers.pools(n);
    this.#gatherInto(out);
    return out;
  }
}
