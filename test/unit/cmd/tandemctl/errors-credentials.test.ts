// tandemctl's exit status 6 (issue 12, check 4): refusals for credentials, told apart from an
// unreachable node (4) and from the node's own refusals (1, 5) by the gRPC status, the
// TANDEM_ERR code and what the transport said, with one line saying what to do.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { Credentials } from '../../../../cmd/tandemctl/credentials.js';
import { EXIT, explain, failureLine } from '../../../../cmd/tandemctl/errors.js';
import { AdminCallError } from '../../../../src/admin/admin-client.js';
import { ERROR_CODE_METADATA } from '../../../../src/admin/admin-proto.js';

const EP = '127.0.0.1:7070';
function callError(code: grpc.status, details: string, tandemCode?: string): AdminCallError {
  const metadata = new grpc.Metadata();
  if (tandemCode) metadata.set(ERROR_CODE_METADATA, tandemCode);
  const e = Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
  return new AdminCallError('Status', EP, e);
}
const plaintext: Credentials = { plaintext: true, from: 'no credentials' };
const full: Credentials = {
  plaintext: false,
  ca: '/t/ca.crt',
  cert: '/t/admin.crt',
  key: '/t/admin.key',
  from: '--tls-dir /t',
};
const exitOf = (err: AdminCallError, c: Credentials) =>
  explain(err, 'status', { timeout: 5, credentials: c });

describe('tandemctl: refusals for credentials', () => {
  it("UNAUTHENTICATED and the role check: exit 6 with the node's one line", () => {
    const e = exitOf(
      callError(grpc.status.UNAUTHENTICATED, 'no client certificate from the cluster CA: pass --ca'),
      full,
    );
    expect(e.exitCode).toBe(EXIT.credentials);
    expect(failureLine(e)).toMatch(
      /^tandemctl: status: refused: no client certificate .* — docs\/security\.md$/,
    );
    expect(
      exitOf(callError(grpc.status.PERMISSION_DENIED, 'PutConfig needs the admin role'), full).exitCode,
    ).toBe(6);
  });

  it("a PERMISSION_DENIED with a TANDEM_ERR code and the node's own UNAVAILABLE are not credential problems", () => {
    const own = callError(grpc.status.PERMISSION_DENIED, 'x', 'TANDEM_ERR_CLUSTER_NOT_LEADER');
    expect(exitOf(own, full).exitCode).toBe(EXIT.failed);
    const etcd = callError(grpc.status.UNAVAILABLE, 'etcd', 'TANDEM_ERR_CLUSTER_UNAVAILABLE');
    expect(exitOf(etcd, full).exitCode).toBe(EXIT.cluster);
  });

  it('transport: plaintext to a TLS node, a server certificate of another CA, our certificate refused: exit 6', () => {
    const dropped =
      'No connection established. Last error: Failed to connect (2026-12-07T09:31:33.273Z). Resolution note: ';
    const p = exitOf(callError(grpc.status.UNAVAILABLE, dropped), plaintext);
    expect(p.exitCode).toBe(EXIT.credentials);
    expect(failureLine(p)).toContain('the node requires TLS — pass --ca/--cert/--key');
    const ca =
      'No connection established. Last error: Error: self-signed certificate in certificate chain. Resolution note: ';
    const c = exitOf(callError(grpc.status.UNAVAILABLE, ca), full);
    expect(c.exitCode).toBe(EXIT.credentials);
    expect(failureLine(c)).toContain(
      'TLS to 127.0.0.1:7070 failed: self-signed certificate in certificate chain (CA /t/ca.crt)',
    );
    const reset = exitOf(callError(grpc.status.UNAVAILABLE, 'read ECONNRESET'), full);
    expect(reset.exitCode).toBe(EXIT.credentials);
    expect(failureLine(reset)).toContain('client certificate /t/admin.crt refused');
    expect(failureLine(reset).split('\n')).toHaveLength(1);
  });

  it('connection refused stays "unreachable" (exit 4), TLS or not', () => {
    const refused =
      'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7070. Resolution note: ';
    expect(exitOf(callError(grpc.status.UNAVAILABLE, refused), full).exitCode).toBe(EXIT.unreachable);
    expect(exitOf(callError(grpc.status.UNAVAILABLE, refused), plaintext).exitCode).toBe(EXIT.unreachable);
  });
});
