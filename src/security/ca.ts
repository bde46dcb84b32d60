import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * The cluster's certificate authority and the certificates it issues, as PEM.
 *
 * Identity lives in the subject: CN is the node or client name, OU the kind — `node`, or the
 * client's role (`admin` | `read-only`). A server maps a verified peer certificate back to that
 * identity with `identityOf` (peer-identity.ts); nothing else in a certificate grants anything.
 */

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export type ClientRole = 'admin' | 'read-only';
export type CertKind = 'node' | ClientRole;
export const CERT_KINDS: readonly CertKind[] = ['node', 'admin', 'read-only'];

export interface PemPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IssueRequest {
  /** The node name (kind `node`) or the client's name. */
  readonly name: string;
  readonly kind: CertKind;
  /** Subject alternative names a node's server certificate answers to. */
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly days?: number;
}

/** Names end up in a distinguished name: keep them to what node names allow. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new Error(
      `certificate name ${JSON.stringify(name)}: use letters, digits, '.', '_' or '-' (at most 63)`,
    );
  }
}

function serial(): string {
  // Positive, 128 random bits (RFC 5280 4.1.2.2: at most 20 octets, non-negative).
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f;
  return Buffer.from(b).toString('hex');
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // Back-dated a little: a peer whose clock runs behind must not see "not yet valid".
  const now = Date.now();
  return { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + days * DAY_MS) };
}

/** A new self-signed CA (10 years by default). */
export async function createCa(name = 'Tandem cluster CA', days = 3650): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name.replace(/[,=+<>#;"\\]/g, ' ')}`,
    ...validity(days),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKey(keys.privateKey) };
}

/**
 * A certificate signed by `ca` (1 year by default). Node certificates serve and dial (server and
 * client auth); client certificates only dial.
 */
export async function issueCert(ca: PemPair, req: IssueRequest): Promise<PemPair> {
  checkName(req.name);
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKey(ca.keyPem);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const usages =
    req.kind === 'node'
      ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
      : [x509.ExtendedKeyUsage.clientAuth];
  const san: x509.JsonGeneralName[] = [];
  if (req.kind === 'node') san.push({ type: 'dns', value: req.name });
  for (const d of req.dnsNames ?? []) san.push({ type: 'dns', value: d });
  for (const ip of req.ipAddresses ?? []) san.push({ type: 'ip', value: ip });
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension(usages, false),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
  ];
  if (san.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(san, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${req.name}, OU=${req.kind}`,
    issuer: caCert.subject,
    ...validity(req.days ?? 365),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKey(keys.privateKey) };
}

/** Subject fields of a PEM certificate (for `certs show` and tests). */
export function describeCert(certPem: string): {
  subject: string;
  issuer: string;
  notAfter: Date;
  serial: string;
} {
  const c = new x509.X509Certificate(certPem);
  return { subject: c.subject, issuer: c.issuer, notAfter: c.notAfter, serial: c.serialNumber };
}
