import fs from 'node:fs';
import path from 'node:path';
import type { AdminClientTls } from '../../src/admin/admin-client.js';
import type { Credentials } from './credential-types.js';
import { usage } from './errors.js';

export type { Credentials } from './credential-types.js';

/** The credential options of every command (global options). */
export interface CredentialOptions {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  tlsDir?: string | undefined;
  insecure?: boolean | undefined;
}

/** The embedded node's files (src/security/embedded-ca.ts) and `deploy/local/cluster`'s names. */
const DIR_FILES = { ca: 'ca.crt', cert: 'admin.crt', key: 'admin.key' } as const;
/** tandemd's default data directory, relative to where it was started (the quick start). */
export const DEFAULT_TLS_DIR = path.join('data', 'tls');

const envOf = (env: NodeJS.ProcessEnv, name: string) => {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
};

function fromDir(dir: string, from: string): Credentials {
  const p = (f: string) => path.join(dir, f);
  if (!fs.existsSync(p(DIR_FILES.ca))) {
    throw usage(`${from}: no ${DIR_FILES.ca} in ${dir}`, 'give the directory tandemd keeps in DATA_DIR/tls');
  }
  return {
    plaintext: false,
    ca: p(DIR_FILES.ca),
    ...(fs.existsSync(p(DIR_FILES.cert)) ? { cert: p(DIR_FILES.cert), key: p(DIR_FILES.key) } : {}),
    from,
  };
}

/**
 * The lookup order (docs/security.md, tandemctl --help):
 *   1. --insecure or TANDEM_INSECURE=1: plaintext, nothing read;
 *   2. --ca/--cert/--key, each else TANDEM_CA/TANDEM_CERT/TANDEM_KEY;
 *   3. --tls-dir DIR or TANDEM_TLS_DIR: DIR/ca.crt, DIR/admin.crt, DIR/admin.key;
 *   4. ./data/tls when it exists (an embedded node started here with the default data directory);
 *   5. none: plaintext.
 */
export function resolveCredentials(
  o: CredentialOptions,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Credentials {
  if (o.insecure || envOf(env, 'TANDEM_INSECURE') === '1') return { plaintext: true, from: '--insecure' };
  const ca = o.ca ?? envOf(env, 'TANDEM_CA');
  const cert = o.cert ?? envOf(env, 'TANDEM_CERT');
  const key = o.key ?? envOf(env, 'TANDEM_KEY');
  if (ca !== undefined || cert !== undefined || key !== undefined) {
    const from = '--ca/--cert/--key (TANDEM_CA/TANDEM_CERT/TANDEM_KEY)';
    if (ca === undefined)
      throw usage('a client certificate needs --ca too', 'pass --ca FILE or set TANDEM_CA');
    if ((cert === undefined) !== (key === undefined)) {
      throw usage('give both --cert and --key (or TANDEM_CERT and TANDEM_KEY)', 'see tandemctl --help');
    }
    return { plaintext: false, ca, ...(cert !== undefined ? { cert, key: key! } : {}), from };
  }
  const dir = o.tlsDir ?? envOf(env, 'TANDEM_TLS_DIR');
  if (dir !== undefined) return fromDir(path.resolve(cwd, dir), `--tls-dir ${dir}`);
  const local = path.resolve(cwd, DEFAULT_TLS_DIR);
  if (fs.existsSync(path.join(local, DIR_FILES.ca))) return fromDir(local, `./${DEFAULT_TLS_DIR}`);
  return { plaintext: true, from: 'no credentials' };
}

/** Reads the files; a missing or unreadable one is a usage error naming it. */
export function readCredentials(c: Credentials): AdminClientTls | undefined {
  if (c.plaintext) return undefined;
  const read = (what: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw usage(
        `${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        `check ${c.from}`,
      );
    }
  };
  return { ca: read('--ca', c.ca)!, cert: read('--cert', c.cert), key: read('--key', c.key) };
}
