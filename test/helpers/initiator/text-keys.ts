// Text key=value segments (RFC 7143 6.1) and the initiator's side of operational negotiation
// (RFC 7143 13): one table of keys, one function to judge the target's answer, one to answer
// an offer the target made.

export type KeyValuePairs = Array<[string, string]>;

export function encodeTextKeys(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.from(pairs.map(([k, v]) => `${k}=${v}\0`).join(''), 'utf8');
}

/** Splits a complete (already reassembled) text segment. Throws RangeError on an entry without '='. */
export function decodeTextKeys(data: Buffer): KeyValuePairs {
  const out: KeyValuePairs = [];
  for (const entry of data.toString('utf8').split('\0')) {
    if (entry.length === 0) continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new RangeError(`malformed text key entry ${JSON.stringify(entry)}`);
    out.push([entry.slice(0, eq), entry.slice(eq + 1)]);
  }
  return out;
}

export type KeyRule =
  | { type: 'list'; default: string }
  | { type: 'and' | 'or'; default: 'Yes' | 'No' }
  | { type: 'min' | 'max'; default: number; lo: number; hi: number }
  /** Each side declares its own value; nothing is negotiated (MaxRecvDataSegmentLength). */
  | { type: 'declarative'; default?: number };

const MAX_24 = 2 ** 24 - 1;

/** RFC 7143 13.x operational keys with their result functions and defaults. */
export const OPERATIONAL_KEYS = {
  HeaderDigest: { type: 'list', default: 'None' },
  DataDigest: { type: 'list', default: 'None' },
  MaxConnections: { type: 'min', default: 1, lo: 1, hi: 65535 },
  InitialR2T: { type: 'or', default: 'Yes' },
  ImmediateData: { type: 'and', default: 'Yes' },
  MaxRecvDataSegmentLength: { type: 'declarative', default: 8192 },
  MaxBurstLength: { type: 'min', default: 262144, lo: 512, hi: MAX_24 },
  FirstBurstLength: { type: 'min', default: 65536, lo: 512, hi: MAX_24 },
  DefaultTime2Wait: { type: 'max', default: 2, lo: 0, hi: 3600 },
  DefaultTime2Retain: { type: 'min', default: 20, lo: 0, hi: 3600 },
  MaxOutstandingR2T: { type: 'min', default: 1, lo: 1, hi: 65535 },
  DataPDUInOrder: { type: 'or', default: 'Yes' },
  DataSequenceInOrder: { type: 'or', default: 'Yes' },
  ErrorRecoveryLevel: { type: 'min', default: 0, lo: 0, hi: 2 },
} as const satisfies Record<string, KeyRule>;

export type OperationalKey = keyof typeof OPERATIONAL_KEYS;

/** Declarations a target may make that need no answer (RFC 7143 13.2, 13.9, 13.10, 13.12). */
export const DECLARATIVE_KEYS = new Set([
  'TargetAlias',
  'TargetAddress',
  'TargetPortalGroupTag',
  'TargetName',
  'MaxRecvDataSegmentLength',
]);

export const SPECIAL_VALUES = new Set(['Reject', 'Irrelevant', 'NotUnderstood']);

export function isOperationalKey(key: string): key is OperationalKey {
  return Object.hasOwn(OPERATIONAL_KEYS, key);
}

export function parseNumber(v: string): number | undefined {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v)) return undefined;
  return Number(v);
}

export interface AnswerJudgement {
  /** The value now in force: the answer when valid, else the key's default. */
  value: string;
  violation?: string;
}

/** Judges the target's answer to a value we offered (RFC 7143 6.2 result functions). */
export function judgeAnswer(key: string, offered: string, answer: string): AnswerJudgement {
  if (!isOperationalKey(key)) return { value: answer };
  const rule: KeyRule = OPERATIONAL_KEYS[key];
  const fallback = rule.default === undefined ? answer : String(rule.default);
  if (SPECIAL_VALUES.has(answer)) return { value: fallback };
  const bad = (why: string): AnswerJudgement => ({
    value: fallback,
    violation: `${key}: answer ${JSON.stringify(answer)} to offer ${JSON.stringify(offered)} ${why}`,
  });
  switch (rule.type) {
    case 'list':
      return offered.split(',').includes(answer)
        ? { value: answer }
        : bad('is not one of the offered values');
    case 'and':
    case 'or': {
      if (answer !== 'Yes' && answer !== 'No') return bad('is not Yes/No');
      const forced = rule.type === 'and' ? 'No' : 'Yes';
      if (offered === forced && answer !== forced)
        return bad(`must be ${forced} (${rule.type.toUpperCase()})`);
      return { value: answer };
    }
    case 'min':
    case 'max': {
      const n = parseNumber(answer);
      const o = parseNumber(offered);
      if (n === undefined) return bad('is not a number');
      if (n < rule.lo || n > rule.hi) return bad(`is outside ${rule.lo}..${rule.hi}`);
      if (o !== undefined && rule.type === 'min' && n > o) return bad('exceeds the offer (minimum function)');
      if (o !== undefined && rule.type === 'max' && n < o)
        return bad('is below the offer (maximum function)');
      return { value: String(n) };
    }
    case 'declarative':
      return { value: answer };
  }
}

/**
 * Our answer to a key the target offered first. `ours` is what we would have offered (for list
 * keys, our acceptable values in preference order). Returns undefined for declarations.
 */
export function answerOffer(key: string, theirs: string, ours: string | undefined): string | undefined {
  if (DECLARATIVE_KEYS.has(key)) return undefined;
  if (!isOperationalKey(key)) return 'NotUnderstood';
  const rule: KeyRule = OPERATIONAL_KEYS[key];
  const mine = ours ?? (rule.default === undefined ? undefined : String(rule.default));
  switch (rule.type) {
    case 'list': {
      const acceptable = (mine ?? '').split(',');
      return theirs.split(',').find((v) => acceptable.includes(v)) ?? 'Reject';
    }
    case 'and':
      return theirs === 'Yes' && mine === 'Yes' ? 'Yes' : 'No';
    case 'or':
      return theirs === 'Yes' || mine === 'Yes' ? 'Yes' : 'No';
    case 'min':
    case 'max': {
      const t = parseNumber(theirs);
      const m = parseNumber(mine ?? '');
      if (t === undefined) return 'Reject';
      if (m === undefined) return String(t);
      return String(rule.type === 'min' ? Math.min(t, m) : Math.max(t, m));
    }
    case 'declarative':
      return undefined;
  }
}
