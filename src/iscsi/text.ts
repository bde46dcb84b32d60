/** iSCSI text key=value pairs, NUL-separated (RFC 7143 6.1). */
export type KeyValues = Array<[string, string]>;

export class TextFormatError extends Error {}

/** Parses a data segment of key=value\0 pairs. Malformed text throws TextFormatError. */
export function parseKeyValues(data: Buffer): KeyValues {
  const out: KeyValues = [];
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    if (i === data.length || data[i] === 0) {
      if (i > start) {
        const item = data.toString('utf8', start, i);
        const eq = item.indexOf('=');
        if (eq <= 0) throw new TextFormatError(`malformed text key "${item.slice(0, 64)}"`);
        const key = item.slice(0, eq);
        // RFC 7143 6.1: key names are at most 63 characters of a restricted set.
        if (key.length > 63 || !/^[A-Za-z0-9.\-+@_]+$/.test(key)) {
          throw new TextFormatError(`invalid key name "${key.slice(0, 64)}"`);
        }
        out.push([key, item.slice(eq + 1)]);
      }
      start = i + 1;
    }
  }
  return out;
}

export function encodeKeyValues(kv: KeyValues): Buffer {
  if (kv.length === 0) return Buffer.alloc(0);
  return Buffer.from(kv.map(([k, v]) => `${k}=${v}\0`).join(''), 'utf8');
}
