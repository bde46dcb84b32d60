import type { NexusMatch } from './state.js';

/** SPC-4 7.6.1 PROTOCOL IDENTIFIER of iSCSI. */
const PROTOCOL_ISCSI = 0x5;
/** SPC-4 7.6.4.6: 00b names an initiator device, 01b an initiator port (name + ",i,0x" + ISID). */
const FORMAT_DEVICE = 0;
const FORMAT_PORT = 1;
const ISID_SEPARATOR = ',i,0x';

/** A decoded iSCSI TransportID. */
export interface TransportId {
  /** iSCSI name, lowercase. */
  readonly name: string;
  /** 12 lowercase hex digits (format 01b), or null (format 00b: every port of that device). */
  readonly isid: string | null;
}

/**
 * Encodes an iSCSI TransportID (SPC-4 7.6.4.6): format 01b when the ISID is known, else 00b.
 * The name is NUL-terminated and padded so that ADDITIONAL LENGTH is a multiple of four and
 * at least 20.
 */
export function encodeTransportId(m: Pick<NexusMatch, 'initiator' | 'isid'>): Buffer {
  const text = m.isid === null ? m.initiator : `${m.initiator}${ISID_SEPARATOR}${m.isid}`;
  const name = Buffer.from(text, 'utf8');
  const additional = Math.max(20, (name.length + 1 + 3) & ~3);
  const b = Buffer.alloc(4 + additional);
  b[0] = ((m.isid === null ? FORMAT_DEVICE : FORMAT_PORT) << 6) | PROTOCOL_ISCSI;
  b.writeUInt16BE(additional, 2);
  name.copy(b, 4);
  return b;
}

/** Why a TransportID could not be decoded: the byte (relative to its start) that is wrong. */
export interface TransportIdError {
  readonly error: 'invalid';
  readonly byte: number;
  readonly bit?: number;
}

/**
 * Decodes one TransportID at `offset`; returns it and its length, or the offending byte.
 * Only iSCSI TransportIDs are accepted: the LU is reachable through iSCSI ports only, so any
 * other protocol names an I_T nexus that cannot exist here (SPC-4 5.13.7: INVALID FIELD IN
 * PARAMETER LIST).
 */
export function decodeTransportId(
  b: Buffer,
  offset: number,
  end: number,
): { tid: TransportId; length: number } | TransportIdError {
  if (offset + 4 > end) return { error: 'invalid', byte: offset };
  const protocol = b[offset]! & 0x0f;
  const format = b[offset]! >> 6;
  if (protocol !== PROTOCOL_ISCSI) return { error: 'invalid', byte: offset, bit: 3 };
  if (format !== FORMAT_DEVICE && format !== FORMAT_PORT) return { error: 'invalid', byte: offset, bit: 7 };
  const additional = b.readUInt16BE(offset + 2);
  const total = 4 + additional;
  if (additional < 4 || offset + total > end) return { error: 'invalid', byte: offset + 2 };
  const field = b.subarray(offset + 4, offset + total);
  const nul = field.indexOf(0);
  // The ISCSI NAME field is NUL-terminated (SPC-4 7.6.4.6).
  if (nul <= 0) return { error: 'invalid', byte: offset + 4 };
  const text = field.subarray(0, nul).toString('utf8').toLowerCase();
  const sep = text.indexOf(ISID_SEPARATOR);
  if (format === FORMAT_DEVICE) {
    if (sep >= 0) return { error: 'invalid', byte: offset + 4 + sep };
    return { tid: { name: text, isid: null }, length: total };
  }
  if (sep <= 0) return { error: 'invalid', byte: offset + 4 };
  const isid = text.slice(sep + ISID_SEPARATOR.length);
  if (!/^[0-9a-f]{12}$/.test(isid))
    return { error: 'invalid', byte: offset + 4 + sep + ISID_SEPARATOR.length };
  return { tid: { name: text.slice(0, sep), isid }, length: total };
}
