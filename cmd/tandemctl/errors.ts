import { AdminCallError } from '../../src/admin/admin-client.js';
import * as ops from '../../src/admin/admin-ops.js';
import { GRPC_STATUS_OF } from '../../src/admin/admin-proto.js';
import { TandemError } from '../../src/util/errors.js';

/** Exit statuses (also in --help). */
export const EXIT = { ok: 0, failed: 1, usage: 2, differences: 3, unreachable: 4, cluster: 5 } as const;

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
  if (err.grpcCode === 4 /* DEADLINE_EXCEEDED */) return `no answer within ${timeoutS} s`;
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

/** Maps anything an action threw to the exit status and the one line to print. */
export function explain(err: unknown, what: string, g: { timeout: number } | undefined): CliError {
  if (err instanceof CliError) return new CliError(err.exitCode, `${what}: ${err.message}`, err.hint);
  if (err instanceof ops.RefusedError) return new CliError(EXIT.failed, `${what}: ${err.message}`, err.hint);
  if (err instanceof AdminCallError) {
    const details = err.message.replace(/\s+/g, ' ');
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
    const hints: Record<number, string> = {
      3: 'fix the value and try again',
      5: 'check the name (list commands show what exists)',
      6: 'it exists already',
      9: 'see tandemctl status',
      10: 'it changed concurrently: try again',
      14: 'try again shortly; tandemctl status shows the cluster',
      12: 'is --endpoint the admin address of a tandemd of the same version as tandemctl?',
    };
    const suffix = code ? ` (${code})` : '';
    return new CliError(
      EXIT.failed,
      `${what}: ${details}${suffix}`,
      hints[status] ?? 'see the node log for details',
    );
  }
  if (err instanceof TandemError)
    return new CliError(EXIT.failed, `${what}: ${err.message}`, 'fix it and try again');
  const msg = err instanceof Error ? err.message : String(err);
  return new CliError(EXIT.failed, `${what}: ${msg}`, 'this looks like a bug in tandemctl: please report it');
}
