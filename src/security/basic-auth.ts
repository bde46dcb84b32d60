import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes for HTTP basic auth (the Prometheus endpoint's `metrics.basicAuth`), in the
 * PHC string format with scrypt (node:crypto, no native dependency):
 *
 *   $scrypt$ln=15,r=8,p=1$<salt, base64>$<32-byte hash, base64>
 *
 * ln is log2 of scrypt's cost N. The exporter-toolkit stores bcrypt hashes; node:crypto has no
 * bcrypt, so those are refused with a message naming the format to use instead.
 */
export interface PasswordHash {
  readonly ln: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

export const DEFAULT_LN = 15;
const KEY_LEN = 32;
const PHC = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** Parses a hash string; the error says what is wrong (shown with the config key). */
export function parsePasswordHash(text: string): PasswordHash {
  if (/^\$2[aby]?\$/.test(text)) {
    throw new Error(
      'a bcrypt hash: Tandem takes scrypt hashes ($scrypt$ln=…), made by deploy/tools/metrics-password-hash.mjs',
    );
  }
  const m = PHC.exec(text);
  if (!m) throw new Error('not a password hash of the form $scrypt$ln=15,r=8,p=1$SALT$HASH');
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds: below ln 14 the hash is cheap to brute-force; above 20 one check takes ~1 GiB.
  if (ln < 14 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) {
    throw new Error(`scrypt parameters ln=${ln},r=${r},p=${p} out of range (ln 14..20, r 1..32, p 1..16)`);
  }
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < 16 || hash.length !== KEY_LEN)
    throw new Error('salt under 16 bytes or hash not 32 bytes');
  return { ln, r, p, salt, hash };
}

function derive(password: string, h: Omit<PasswordHash, 'hash'>): Promise<Buffer> {
  const N = 2 ** h.ln;
  return new Promise((resolve, reject) =>
    scrypt(
      password,
      h.salt,
      KEY_LEN,
      { N, r: h.r, p: h.p, maxmem: 128 * N * h.r * 2 + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

/** A new hash string for `password` (random 16-byte salt). */
export async function hashPassword(password: string, ln = DEFAULT_LN): Promise<string> {
  const params = { ln, r: 8, p: 1, salt: randomBytes(16) };
  const hash = await derive(password, params);
  return `$scrypt$ln=${ln},r=8,p=1$${b64(params.salt)}$${b64(hash)}`;
}

/** Whether `password` matches `h` (constant-time comparison of the derived keys). */
export async function verifyPassword(password: string, h: PasswordHash): Promise<boolean> {
  const key = await derive(password, h);
  return timingSafeEqual(key, h.hash);
}
