import * as grpc from '@grpc/grpc-js';
import { AdminCallError } from '../../src/admin/admin-client.js';
import * as ops from '../../src/admin/admin-ops.js';
import { GRPC_STATUS_OF } from '../../src/admin/admin-proto.js';
import { TandemError } from '../../src/util/errors.js';
import type { Credentials } from './credential-types.js';

/** Exit statuses (also in --help). */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  differences: 3,
  unreachable: 4,
  cluster: 5,
  credentials: 6,
} as const;

/** A failure tandemctl reports as one line: `tandemctl: <what>: <why> — <hint>`. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly hint: string;
  constructor(exitCode: number, message: string, hint: string) {
    super(message);
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

export const usage = (message: string, hint = 'see --help') => new CliError(EXIT.usage, message, hint);

/** Why a call did not reach the node, in words. */
function unreachableReason(err: AdminCallError, timeoutS: number): string {
  if (err.grpcCode === grpc.status.DEADLINE_EXCEEDED) return `no answer within ${timeoutS} s`;
  const m = /(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN)/.exec(
    err.message,
  );
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'unknown host',
    EAI_AGAIN: 'host name lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
  };
  if (m) return words[m[1]!]!;
  if (/Name resolution failed/.test(err.message)) return 'cannot resolve the host name';
  return err.message.replace(/^\d+ [A-Z_]+: /, '');
}

const CONNECT_ERRORS =
  /(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN|Name resolution failed)/;
const TLS_WORDS = /certificate|SSL|TLS|alert|handshake/i;
const CREDENTIAL_HINT =
  'pass --ca/--cert/--key or --tls-dir, or set TANDEM_CA/TANDEM_CERT/TANDEM_KEY (docs/security.md)';

/**
 * Refusals for credentials (issue 12, check 4): the node's own answer (UNAUTHENTICATED, or
 * PERMISSION_DENIED without a TANDEM_ERR code, which is the role check), or a TLS failure the
 * call's transport reports: tandemctl talked plaintext to a TLS node, the node's certificate is
 * not from --ca's CA, or the node dropped the connection at our certificate.
 */
function credentialProblem(
  err: AdminCallError,
  what: string,
  c: Credentials | undefined,
): CliError | undefined {
  const details = err.message.replace(/\s+/g, ' ');
  if (err.grpcCode === grpc.status.UNAUTHENTICATED)
    return new CliError(EXIT.credentials, `${what}: refused: ${details}`, 'docs/security.md');
  if (err.grpcCode === grpc.status.PERMISSION_DENIED && err.tandemCode === undefined)
    return new CliError(EXIT.credentials, `${what}: refused: ${details}`, 'docs/security.md');
  // The node's own UNAVAILABLE (etcd) carries a TANDEM_ERR code; a transport failure none.
  if (err.grpcCode !== grpc.status.UNAVAILABLE || err.tandemCode !== undefined) return undefined;
  if (!c || CONNECT_ERRORS.test(err.message)) return undefined;
  if (c.plaintext) {
    return new CliError(
      EXIT.credentials,
      `cannot talk to ${err.endpoint} in plaintext (${c.from}): the node requires TLS`,
      CREDENTIAL_HINT,
    );
  }
  const tls = /Last error: (?:Error: )?(.*?)\.? Resolution note/.exec(details)?.[1] ?? details;
  if (TLS_WORDS.test(err.message)) {
    return new CliError(
      EXIT.credentials,
      `TLS to ${err.endpoint} failed: ${tls} (CA ${c.ca})`,
      `is it the cluster's CA? check ${c.from}`,
    );
  }
  if (/ECONNRESET/.test(err.message) && c.cert) {
    return new CliError(
      EXIT.credentials,
      `${err.endpoint} closed the connection at the TLS handshake: client certificate ${c.cert} refused`,
      `use a certificate issued by the cluster's CA; check ${c.from}`,
    );
  }
  return undefined;
}

/** The one line tandemctl prints on stderr for a failure. */
export function failureLine(e: CliError): string {
  return `tandemctl: ${e.message} — ${e.hint}`.replace(/\s*\n\s*/g, ' ');
}

/**
 * What to do next, by gRPC status. The status is the one the error-catalogue code maps to
 * (GRPC_STATUS_OF) when the node sent a code in the `tandem-error-code` trailer, else the
 * call's own status: the message text never decides the exit status or the hint.
 */
const HINT_OF_STATUS: Partial<Record<grpc.status, string>> = {
  [grpc.status.INVALID_ARGUMENT]: 'fix the value and try again',
  [grpc.status.NOT_FOUND]: 'check the name (list commands show what exists)',
  [grpc.status.ALREADY_EXISTS]: 'it exists already',
  [grpc.status.FAILED_PRECONDITION]: 'see tandemctl status',
  [grpc.status.ABORTED]: 'it changed concurrently: try again',
  [grpc.status.UNAVAILABLE]: 'try again shortly; tandemctl status shows the cluster',
  [grpc.status.UNIMPLEMENTED]:
    'is --endpoint the admin address of a tandemd of the same version as tandemctl?',
};

/** Maps anything an action threw to the exit status and the one line to print. */
export function explain(
  err: unknown,
  what: string,
  g: { timeout: number; credentials?: Credentials | undefined } | undefined,
): CliError {
  if (err instanceof CliError) return new CliError(err.exitCode, `${what}: ${err.message}`, err.hint);
  if (err instanceof ops.RefusedError) return new CliError(EXIT.failed, `${what}: ${err.message}`, err.hint);
  if (err instanceof AdminCallError) {
    const details = err.message.replace(/\s+/g, ' ');
    const refused = credentialProblem(err, what, g?.credentials);
    if (refused) return refused;
    if (err.unreachable) {
      return new CliError(
        EXIT.unreachable,
        `cannot reach ${err.endpoint}: ${unreachableReason(err, g?.timeout ?? 5)}`,
        'is tandemd running? check --endpoint/TANDEM_ENDPOINT',
      );
    }
    const code = err.tandemCode;
    if (code === 'TANDEM_ERR_CLUSTER_UNAVAILABLE') {
      return new CliError(
        EXIT.cluster,
        `${what}: cluster unavailable: ${details}`,
        'the node cannot reach etcd: check etcd and the network to it',
      );
    }
    const status = code === undefined ? err.grpcCode : (GRPC_STATUS_OF[code] ?? err.grpcCode);
    const suffix = code ? ` (${code})` : '';
    return new CliError(
      EXIT.failed,
      `${what}: ${details}${suffix}`,
      HINT_OF_STATUS[status] ?? 'see the node log for details',
    );
  }
  if (err instanceof TandemError)
    return new CliError(EXIT.failed, `${what}: ${err.message}`, 'fix it and try again');
  const msg = err instanceof Error ? err.message : String(err);
  return new CliError(EXIT.failed, `${what}: ${msg}`, 'this looks like a bug in tandemctl: please report it');
}
