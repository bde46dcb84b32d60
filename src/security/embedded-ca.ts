import fs from 'node:fs';
import path from 'node:path';
import { createFileDurablySync } from '../util/durable-file.js';
import { createCa, issueCert, type PemPair } from './ca.js';

/**
 * The zero-setup credentials of an embedded node (issue 12: "the quick start stays zero-setup"),
 * in <dataDir>/tls, created on the first start and never overwritten:
 *   ca.crt  ca.key        the node's own CA
 *   node.crt  node.key    the admin API's server certificate (OU=node, CN=the node name)
 *   admin.crt  admin.key  an admin client certificate for tandemctl on this machine
 * The directory is 0700 and the keys 0600, so only the user tandemd runs as (and root) can use
 * them; tandemctl finds them in ./data/tls, the default data directory (docs/security.md).
 */
export const EMBEDDED_TLS_DIR = 'tls';
export const EMBEDDED_FILES = {
  ca: 'ca.crt',
  caKey: 'ca.key',
  cert: 'node.crt',
  key: 'node.key',
  adminCert: 'admin.crt',
  adminKey: 'admin.key',
} as const;

export interface EmbeddedTls {
  /** The directory, absolute. */
  readonly dir: string;
  /** What was created this time (empty when everything was there). */
  readonly created: readonly string[];
  /** The node's files, relative to the data directory (the node file's `tls:` shape). */
  readonly files: { readonly ca: string; readonly cert: string; readonly key: string };
}

function write(file: string, data: string, mode: number): void {
  // Never replaces a file someone may rely on (a concurrent first start loses, loudly), and a
  // power cut during the first start leaves each file whole or absent, never empty.
  createFileDurablySync(file, data, mode);
}

function writePair(dir: string, cert: string, key: string, pair: PemPair, created: string[]): void {
  write(path.join(dir, key), pair.keyPem, 0o600);
  write(path.join(dir, cert), pair.certPem, 0o644);
  created.push(cert, key);
}

const exists = (dir: string, f: string) => fs.existsSync(path.join(dir, f));

/**
 * Makes sure <dataDir>/tls holds the embedded node's CA, server certificate and admin client
 * credential, creating what is missing. A pair half there (a certificate without its key) is an
 * error rather than silently replaced.
 */
export async function ensureEmbeddedTls(
  dataDir: string,
  nodeName: string,
  hosts: { ip?: readonly string[]; dns?: readonly string[] } = {},
): Promise<EmbeddedTls> {
  const dir = path.resolve(dataDir, EMBEDDED_TLS_DIR);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = EMBEDDED_FILES;
  const created: string[] = [];
  for (const [c, k] of [
    [f.ca, f.caKey],
    [f.cert, f.key],
    [f.adminCert, f.adminKey],
  ] as const) {
    // A key is written before its certificate: a key alone is what a crash between the two
    // leaves. Nothing can rely on a key whose certificate never existed, so it is made again.
    // (The CA's key only while no certificate it signed is there either.)
    const signed = c === f.ca && (exists(dir, f.cert) || exists(dir, f.adminCert));
    if (exists(dir, k) && !exists(dir, c) && !signed) fs.unlinkSync(path.join(dir, k));
    if (exists(dir, c) !== exists(dir, k)) {
      throw new Error(
        `${path.join(dir, exists(dir, c) ? k : c)} is missing but ${path.join(dir, exists(dir, c) ? c : k)} exists: restore it, or remove both to have new ones created`,
      );
    }
  }
  if (!exists(dir, f.ca)) writePair(dir, f.ca, f.caKey, await createCa(`Tandem ${nodeName} CA`), created);
  const needNode = !exists(dir, f.cert);
  const needAdmin = !exists(dir, f.adminCert);
  if (needNode || needAdmin) {
    const ca: PemPair = {
      certPem: fs.readFileSync(path.join(dir, f.ca), 'utf8'),
      keyPem: fs.readFileSync(path.join(dir, f.caKey), 'utf8'),
    };
    if (needNode) {
      const pair = await issueCert(ca, {
        name: nodeName,
        kind: 'node',
        ipAddresses: ['127.0.0.1', '::1', ...(hosts.ip ?? [])],
        dnsNames: ['localhost', ...(hosts.dns ?? [])],
      });
      writePair(dir, f.cert, f.key, pair, created);
    }
    if (needAdmin)
      writePair(dir, f.adminCert, f.adminKey, await issueCert(ca, { name: 'admin', kind: 'admin' }), created);
  }
  return {
    dir,
    created,
    files: {
      ca: path.join(EMBEDDED_TLS_DIR, f.ca),
      cert: path.join(EMBEDDED_TLS_DIR, f.cert),
      key: path.join(EMBEDDED_TLS_DIR, f.key),
    },
  };
}
