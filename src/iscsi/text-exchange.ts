import { negotiate, type TargetSettings } from './params.js';
import { BhsFlag, field32, finalBit, itt as ittOf, type Pdu, RESERVED_TAG, RejectReason } from './pdu/bhs.js';
import * as out from './pdu/target-pdus.js';
import type { TargetDirectory } from './portal-interface.js';
import type { Session } from './session.js';
import { encodeKeyValues, type KeyValues, parseKeyValues, TextFormatError } from './text.js';

/** Largest text request we assemble from continued PDUs (RFC 7143 11.10.2). */
const MAX_TEXT_BYTES = 64 * 1024;

/** What the Text exchange needs from its connection. */
export interface TextHost {
  send(hdr: Buffer, data?: Buffer): void;
  reject(reason: number, bhs: Buffer): void;
  /** Sequence fields for a response that consumes a StatSN. */
  seq(): out.SeqFields;
  allocateTtt(): number;
  session(): Session;
  settings(): TargetSettings;
  directory(): TargetDirectory;
  localAddress(): string;
}

/**
 * The full-feature Text exchange of one connection (RFC 7143 11.10): requests continued over
 * several PDUs, long responses continued on the initiator's empty requests, SendTargets and
 * full-feature negotiation.
 */
export class TextExchange {
  readonly #host: TextHost;
  #remainder: { ttt: number; itt: number; data: Buffer } | undefined;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #partialTtt: number | undefined;

  constructor(host: TextHost) {
    this.#host = host;
  }

  onText(pdu: Pdu): void {
    const bhs = pdu.bhs;
    const itt = ittOf(bhs);
    const ttt = field32(bhs, 20);
    const final = finalBit(bhs);
    const cont = (bhs[1]! & BhsFlag.CONTINUE) !== 0;
    // Continuation of a long response the initiator is collecting (empty request, our TTT).
    if (ttt !== RESERVED_TAG && ttt !== this.#partialTtt) {
      const rem = this.#remainder;
      if (!rem || rem.ttt !== ttt) {
        this.#host.reject(RejectReason.INVALID_PDU_FIELD, bhs);
        return;
      }
      this.#remainder = undefined;
      this.#sendText(itt, rem.data, bhs);
      return;
    }
    this.#partial.push(Buffer.from(pdu.data));
    this.#partialBytes += pdu.data.length;
    if (this.#partialBytes > MAX_TEXT_BYTES) {
      // A request split over ever more PDUs must not grow without bound.
      this.#partial = [];
      this.#partialBytes = 0;
      this.#partialTtt = undefined;
      this.#host.reject(RejectReason.PROTOCOL_ERROR, bhs);
      return;
    }
    if (cont || !final) {
      this.#partialTtt = this.#host.allocateTtt();
      this.#host.send(
        out.textResponse({ itt, ttt: this.#partialTtt, final: false, continue: false }, this.#host.seq()),
      );
      return;
    }
    this.#partialTtt = undefined;
    this.#partialBytes = 0;
    const text = Buffer.concat(this.#partial);
    this.#partial = [];
    let kv: KeyValues;
    try {
      kv = parseKeyValues(text);
    } catch (err) {
      if (err instanceof TextFormatError) {
        this.#host.reject(RejectReason.PROTOCOL_ERROR, bhs);
        return;
      }
      throw err;
    }
    const response: KeyValues = [];
    const rest: KeyValues = [];
    for (const [k, v] of kv) {
      if (k === 'SendTargets') response.push(...this.#sendTargets(v));
      else rest.push([k, v]);
    }
    if (rest.length > 0) {
      const s = this.#host.session();
      const r = negotiate(
        rest,
        this.#host.settings(),
        s.params,
        { stage: 'full-feature', sessionType: s.type },
        new Set(),
      );
      response.push(...r.response);
    }
    this.#sendText(itt, encodeKeyValues(response), bhs);
  }

  #sendText(itt: number, data: Buffer, req: Buffer): void {
    const limit = this.#host.session().params.initiatorMaxRecvDataSegmentLength;
    const lunBytes = req.subarray(8, 16);
    if (data.length <= limit) {
      this.#host.send(
        out.textResponse(
          { itt, ttt: RESERVED_TAG, final: true, continue: false, lunBytes },
          this.#host.seq(),
        ),
        data,
      );
      return;
    }
    const ttt = this.#host.allocateTtt();
    this.#remainder = { ttt, itt, data: data.subarray(limit) };
    this.#host.send(
      out.textResponse({ itt, ttt, final: false, continue: true, lunBytes }, this.#host.seq()),
      data.subarray(0, limit),
    );
  }

  /** SendTargets (RFC 7143 Appendix C). */
  #sendTargets(value: string): KeyValues {
    const s = this.#host.session();
    const local = this.#host.localAddress();
    let targets = this.#host.directory().all();
    if (s.type === 'Normal') {
      // In a normal session only the session's own target may be reported.
      targets = targets.filter(
        (t) => t.name === s.target?.name && (value === '' || value === 'All' || value === t.name),
      );
    } else if (value !== 'All') {
      targets = targets.filter((t) => t.name === value);
    }
    const kv: KeyValues = [];
    for (const t of targets) {
      if (!t.admits(s.initiatorName)) continue;
      kv.push(['TargetName', t.name]);
      for (const a of t.addresses(local)) kv.push(['TargetAddress', a]);
    }
    return kv;
  }
}
