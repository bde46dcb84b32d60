import type { PeerCertificate } from 'node:tls';
import type { CertKind } from './ca.js';
import { CERT_KINDS } from './ca.js';

/** Who a verified TLS peer is, read from the certificate subject (CN = name, OU = kind). */
export interface PeerIdentity {
  readonly name: string;
  readonly kind: CertKind;
}

/** Anything that exposes grpc-js's auth context (server calls do, since 1.10). */
export interface HasAuthContext {
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate } | null;
}

function field(v: string | string[] | undefined): string | undefined {
  // A subject with a repeated attribute is ambiguous: refuse it rather than pick one.
  return typeof v === 'string' ? v : undefined;
}

/** The identity in a peer certificate, or undefined when it names none Tandem issues. */
export function identityOfCertificate(cert: PeerCertificate | undefined): PeerIdentity | undefined {
  if (!cert?.subject) return undefined;
  const name = field(cert.subject.CN);
  const kind = field(cert.subject.OU) as CertKind | undefined;
  if (!name || !kind || !CERT_KINDS.includes(kind)) return undefined;
  return { name, kind };
}

/**
 * The identity of the caller of a gRPC server call: undefined on a plaintext channel or when the
 * client presented no certificate Tandem issued. The TLS layer has already verified the chain
 * against the cluster CA (`checkClientCertificate: true`).
 */
export function identityOf(call: HasAuthContext): PeerIdentity | undefined {
  const ctx = call.getAuthContext();
  if (!ctx || ctx.transportSecurityType !== 'ssl') return undefined;
  return identityOfCertificate(ctx.sslPeerCertificate);
}
