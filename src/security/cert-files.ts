import fs from 'node:fs';
import path from 'node:path';
import { createFileDurablySync } from '../util/durable-file.js';
import { type ClientRole, createCa, issueCert, type PemPair } from './ca.js';

/**
 * The certificate directory `tandemctl certs` keeps (docs/security.md):
 *   ca.crt  ca.key              the cluster CA (ca.crt may become a bundle during rotation)
 *   <name>.crt  <name>.key      one pair per node or client, named by its CN
 * Keys are written 0600; nothing is ever overwritten (a second issue for a name fails).
 */
export const CA_CERT = 'ca.crt';
export const CA_KEY = 'ca.key';

export interface IssuedFiles {
  readonly cert: string;
  readonly key: string;
}

function writeNew(file: string, data: string, mode: number): void {
  // 'wx': fails with EEXIST instead of replacing a certificate or key someone relies on.
  try {
    createFileDurablySync(file, data, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(`${file} exists: refusing to overwrite it (remove it first to replace it)`);
    }
    throw err;
  }
}

function writePair(dir: string, base: string, pair: PemPair): IssuedFiles {
  const cert = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  for (const f of [cert, key]) {
    if (fs.existsSync(f))
      throw new Error(`${f} exists: refusing to overwrite it (remove it first to replace it)`);
  }
  writeNew(key, pair.keyPem, 0o600);
  writeNew(cert, pair.certPem, 0o644);
  return { cert, key };
}

/** Creates DIR (0700) and a new CA in it. */
export async function initCaDir(dir: string, caName?: string): Promise<IssuedFiles> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const f of [CA_CERT, CA_KEY]) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) throw new Error(`${p} exists: refusing to overwrite the CA`);
  }
  return writePair(dir, 'ca', await createCa(caName));
}

export function readCa(dir: string): PemPair {
  const read = (f: string) => {
    const p = path.join(dir, f);
    try {
      return fs.readFileSync(p, 'utf8');
    } catch (err) {
      throw new Error(
        `cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (run tandemctl certs init --dir ${dir} first)`,
      );
    }
  };
  return { certPem: read(CA_CERT), keyPem: read(CA_KEY) };
}

function checkBase(name: string): void {
  if (name === 'ca') throw new Error(`"ca" names the CA's own files: pick another name`);
}

/** A node certificate (server and client auth; SAN DNS = the name, plus the given IPs/names). */
export async function issueNodeFiles(
  dir: string,
  name: string,
  san: { ip?: readonly string[]; dns?: readonly string[] } = {},
): Promise<IssuedFiles> {
  checkBase(name);
  const pair = await issueCert(readCa(dir), {
    name,
    kind: 'node',
    ipAddresses: san.ip ?? [],
    dnsNames: san.dns ?? [],
  });
  return writePair(dir, name, pair);
}

/** A client certificate for tandemctl (OU = its role). */
export async function issueClientFiles(dir: string, name: string, role: ClientRole): Promise<IssuedFiles> {
  checkBase(name);
  return writePair(dir, name, await issueCert(readCa(dir), { name, kind: role }));
}
