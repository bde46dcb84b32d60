import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyValues } from './text.js';

/** Bounds of an initiator's mutual-CHAP challenge (see ChapAuthenticator). */
export const CHAP_C_MIN_BYTES = 16;
export const CHAP_C_MAX_BYTES = 1024;

/** One CHAP identity: the name sent as CHAP_N and its shared secret. */
export interface ChapCredentials {
  readonly user: string;
  readonly secret: string;
}

/**
 * What a target (or discovery) requires: `chap` authenticates the initiator; `mutualChap` is
 * what the target answers with when the initiator challenges it back (RFC 7143 12.1.3).
 */
export interface AuthConfig {
  readonly chap: ChapCredentials;
  readonly mutualChap?: ChapCredentials;
}

/** CHAP_A value for MD5 (RFC 1994, IANA PPP authentication algorithms). */
export const CHAP_MD5 = '5';
const CHALLENGE_BYTES = 16;

/** RFC 1994 4.1: MD5 over the identifier byte, the secret and the challenge. */
export function chapDigest(identifier: number, secret: string, challenge: Buffer): Buffer {
  return createHash('md5')
    .update(Buffer.from([identifier & 0xff]))
    .update(Buffer.from(secret, 'utf8'))
    .update(challenge)
    .digest();
}

/** A CHAP binary value: 0x-prefixed hex or 0b-prefixed base64 (RFC 7143 6.1.4). */
export function decodeChapBinary(v: string): Buffer | undefined {
  if (/^0x[0-9a-f]+$/i.test(v)) {
    const hex = v.slice(2);
    return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  }
  if (/^0b[A-Za-z0-9+/]+=*$/i.test(v)) return Buffer.from(v.slice(2), 'base64');
  return undefined;
}

export type ChapStep =
  | { kind: 'continue'; response: KeyValues }
  | { kind: 'done'; response: KeyValues }
  | { kind: 'fail'; why: string };

/**
 * The target side of one CHAP exchange (RFC 7143 12.1.3): CHAP_A → CHAP_I/CHAP_C, then verify
 * CHAP_N/CHAP_R and, for mutual CHAP, answer the initiator's CHAP_I/CHAP_C. Failure reasons
 * never carry a secret or a CHAP_R value: they are logged.
 */
export class ChapExchange {
  readonly #auth: AuthConfig;
  #state: 'algorithm' | 'response' | 'done' = 'algorithm';
  #identifier = 0;
  #challenge = Buffer.alloc(0);

  constructor(auth: AuthConfig) {
    this.#auth = auth;
  }

  get done(): boolean {
    return this.#state === 'done';
  }

  /** Consumes the CHAP_* keys of one login request. */
  step(keys: Map<string, string>): ChapStep {
    switch (this.#state) {
      case 'algorithm': {
        const a = keys.get('CHAP_A');
        if (a === undefined) return { kind: 'continue', response: [] };
        if (!a.split(',').includes(CHAP_MD5)) return { kind: 'fail', why: `CHAP_A=${a}: only MD5 (5)` };
        this.#identifier = randomBytes(1)[0]!;
        this.#challenge = randomBytes(CHALLENGE_BYTES);
        this.#state = 'response';
        return {
          kind: 'continue',
          response: [
            ['CHAP_A', CHAP_MD5],
            ['CHAP_I', String(this.#identifier)],
            ['CHAP_C', `0x${this.#challenge.toString('hex')}`],
          ],
        };
      }
      case 'response':
        return this.#verify(keys);
      case 'done':
        return { kind: 'done', response: [] };
    }
  }

  #verify(keys: Map<string, string>): ChapStep {
    const name = keys.get('CHAP_N');
    const r = keys.get('CHAP_R');
    if (name === undefined || r === undefined) return { kind: 'fail', why: 'no CHAP_N/CHAP_R' };
    const got = decodeChapBinary(r);
    const want = chapDigest(this.#identifier, this.#auth.chap.secret, this.#challenge);
    if (name !== this.#auth.chap.user) return { kind: 'fail', why: `unknown CHAP user "${name}"` };
    if (!got || got.length !== want.length || !timingSafeEqual(got, want)) {
      return { kind: 'fail', why: `wrong CHAP response for user "${name}"` };
    }
    const i = keys.get('CHAP_I');
    const c = keys.get('CHAP_C');
    if (i === undefined && c === undefined) {
      this.#state = 'done';
      return { kind: 'done', response: [] };
    }
    // Mutual CHAP: the initiator challenges the target back.
    const mutual = this.#auth.mutualChap;
    if (!mutual) return { kind: 'fail', why: 'mutual CHAP asked for but no target secret is configured' };
    if (i === undefined || c === undefined)
      return { kind: 'fail', why: 'mutual CHAP needs CHAP_I and CHAP_C' };
    const id = /^\d{1,3}$/.test(i) ? Number(i) : Number.NaN;
    const challenge = decodeChapBinary(c);
    if (!(id >= 0 && id <= 255) || !challenge) {
      return { kind: 'fail', why: 'malformed mutual CHAP_I/CHAP_C' };
    }
    // RFC 7143 12.1.3: C is at most 1024 bytes. A challenge shorter than the MD5 digest (16
    // bytes, what this target sends and LIO requires) makes the target's answer a cheap
    // offline dictionary attack on its secret.
    if (challenge.length < CHAP_C_MIN_BYTES || challenge.length > CHAP_C_MAX_BYTES) {
      return {
        kind: 'fail',
        why: `mutual CHAP_C of ${challenge.length} bytes (allowed: ${CHAP_C_MIN_BYTES}-${CHAP_C_MAX_BYTES})`,
      };
    }
    // RFC 7143 12.1.3: a challenge equal to the one we sent is a reflection attack.
    if (challenge.equals(this.#challenge))
      return { kind: 'fail', why: 'mutual CHAP challenge reflects ours' };
    this.#state = 'done';
    return {
      kind: 'done',
      response: [
        ['CHAP_N', mutual.user],
        ['CHAP_R', `0x${chapDigest(id, mutual.secret, challenge).toString('hex')}`],
      ],
    };
  }
}
