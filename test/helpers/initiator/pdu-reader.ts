// Receive-side framing (RFC 7143 11.1): BHS → AHS → header digest → data + padding → data digest.
import { crc32c } from '@node-rs/crc32';
import { DigestError, ProtocolError } from './errors.js';
import { BHS_LENGTH, pad4, type RawPdu } from './pdu.js';

export interface DigestSettings {
  header: boolean;
  data: boolean;
}

export class PduReader {
  #chunks: Buffer[] = [];
  #length = 0;
  readonly #digests: () => DigestSettings;
  readonly #maxDataSegment: number;

  /**
   * @param digests read before each PDU, so digests switch on exactly at the first PDU of the
   *   full feature phase even when it arrives in the same chunk as the last Login Response.
   */
  constructor(digests: () => DigestSettings, maxDataSegment = 16 * 1024 * 1024) {
    this.#digests = digests;
    this.#maxDataSegment = maxDataSegment;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  get buffered(): number {
    return this.#length;
  }

  /** The next complete PDU, or undefined if more bytes are needed. Throws ProtocolError. */
  next(): RawPdu | undefined {
    if (this.#length < BHS_LENGTH) return undefined;
    const bhs = this.#peek(BHS_LENGTH);
    const ahsLen = bhs[4]! * 4;
    const dsl = bhs.readUIntBE(5, 3);
    if (dsl > this.#maxDataSegment) throw new ProtocolError(`DataSegmentLength ${dsl} is implausible`);
    const { header, data } = this.#digests();
    const hdLen = header ? 4 : 0;
    const ddLen = data && dsl > 0 ? 4 : 0;
    const total = BHS_LENGTH + ahsLen + hdLen + pad4(dsl) + ddLen;
    if (this.#length < total) return undefined;
    const all = this.#take(total);
    let off = BHS_LENGTH + ahsLen;
    if (header) {
      const expect = crc32c(all.subarray(0, off));
      const got = all.readUInt32LE(off);
      if (expect !== got) throw new DigestError('header', expect, got);
      off += 4;
    }
    const padded = all.subarray(off, off + pad4(dsl));
    if (ddLen > 0) {
      const expect = crc32c(padded);
      const got = all.readUInt32LE(off + padded.length);
      if (expect !== got) throw new DigestError('data', expect, got);
    }
    return {
      bhs: all.subarray(0, BHS_LENGTH),
      ahs: all.subarray(BHS_LENGTH, BHS_LENGTH + ahsLen),
      data: padded.subarray(0, dsl),
    };
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length < n) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!.subarray(0, n);
  }

  #take(n: number): Buffer {
    this.#peek(n);
    const first = this.#chunks[0]!;
    // Copy so the PDU does not pin (or alias) the socket's larger chunk.
    const out = Buffer.from(first.subarray(0, n));
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#length -= n;
    return out;
  }
}
