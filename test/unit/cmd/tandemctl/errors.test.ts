// tandemctl's error mapping (cmd/tandemctl/errors.ts): a backend error crosses the admin API as a
// gRPC status plus the catalogue code in the `tandem-error-code` trailer; what the user sees (the
// one stderr line and the exit status) follows from that code, never from the message text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, failureLine } from '../../../../cmd/tandemctl/errors.js';
import { AdminCallError, AdminClient } from '../../../../src/admin/admin-client.js';
import { ERROR_CODE_METADATA } from '../../../../src/admin/admin-proto.js';
import { AdminServer } from '../../../../src/admin/admin-server.js';
import { TandemError } from '../../../../src/util/errors.js';
import { silentLogger } from '../../../../src/util/logger.js';
import { FakeBackend } from '../../admin/admin-fake-backend.js';

describe('tandemctl error mapping', () => {
  let backend: FakeBackend;
  let server: AdminServer;
  let client: AdminClient;

  beforeAll(async () => {
    backend = new FakeBackend();
    server = await AdminServer.listen('127.0.0.1:0', backend, silentLogger());
    client = new AdminClient(server.address, { timeoutMs: 5000 });
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  /** Makes `status` fail with `err` on the node; returns the call error and what tandemctl prints. */
  const seen = async (err: Error): Promise<{ call: AdminCallError; exit: number; line: string }> => {
    backend.failures.set('clusterStatus', err);
    try {
      await client.status();
    } catch (e) {
      expect(e).toBeInstanceOf(AdminCallError);
      const cli = explain(e, 'status', { timeout: 5 });
      return { call: e as AdminCallError, exit: cli.exitCode, line: failureLine(cli) };
    } finally {
      backend.failures.delete('clusterStatus');
    }
    throw new Error('status did not fail');
  };

  it(`the code travels in the ${ERROR_CODE_METADATA} trailer, next to the gRPC status`, async () => {
    const { call } = await seen(new TandemError('TANDEM_ERR_ADMIN_NOT_FOUND', 'no volume v9'));
    expect(call.tandemCode).toBe('TANDEM_ERR_ADMIN_NOT_FOUND');
    expect(call.grpcCode).toBe(5); // NOT_FOUND
    expect(call.message).toBe('no volume v9'); // the code is not in the message text
  });

  it.each([
    [
      'TANDEM_ERR_CLUSTER_UNAVAILABLE',
      'etcd did not answer in 2 s',
      5,
      'tandemctl: status: cluster unavailable: etcd did not answer in 2 s — the node cannot reach etcd: check etcd and the network to it',
    ],
    [
      'TANDEM_ERR_ADMIN_NOT_FOUND',
      'no volume v9',
      1,
      'tandemctl: status: no volume v9 (TANDEM_ERR_ADMIN_NOT_FOUND) — check the name (list commands show what exists)',
    ],
    [
      'TANDEM_ERR_ADMIN_EXISTS',
      'volume v1 exists',
      1,
      'tandemctl: status: volume v1 exists (TANDEM_ERR_ADMIN_EXISTS) — it exists already',
    ],
    [
      'TANDEM_ERR_CLUSTER_CONFLICT',
      'volume/v1 changed',
      1,
      'tandemctl: status: volume/v1 changed (TANDEM_ERR_CLUSTER_CONFLICT) — it changed concurrently: try again',
    ],
    [
      'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT',
      'bad size',
      1,
      'tandemctl: status: bad size (TANDEM_ERR_CLUSTER_INVALID_ARGUMENT) — fix the value and try again',
    ],
    [
      'TANDEM_ERR_CLUSTER_NOT_LEADER',
      'not the primary',
      1,
      'tandemctl: status: not the primary (TANDEM_ERR_CLUSTER_NOT_LEADER) — see tandemctl status',
    ],
    // UNAVAILABLE with a code is the node answering, not the node being unreachable (exit 4).
    [
      'TANDEM_ERR_REPLICATION_FENCED',
      'fenced by epoch 7',
      1,
      'tandemctl: status: fenced by epoch 7 (TANDEM_ERR_REPLICATION_FENCED) — try again shortly; tandemctl status shows the cluster',
    ],
  ])('%s: exit %#', async (code, message, exit, line) => {
    const r = await seen(new TandemError(code as never, message));
    expect(r.call.tandemCode).toBe(code);
    expect(r.exit).toBe(exit);
    expect(r.line).toBe(line);
  });

  it('the message text does not decide: a message naming another code keeps its own code', async () => {
    const r = await seen(
      new TandemError('TANDEM_ERR_ADMIN_NOT_FOUND', 'TANDEM_ERR_CLUSTER_UNAVAILABLE connection refused'),
    );
    expect(r.exit).toBe(1);
    expect(r.line).toBe(
      'tandemctl: status: TANDEM_ERR_CLUSTER_UNAVAILABLE connection refused (TANDEM_ERR_ADMIN_NOT_FOUND) — check the name (list commands show what exists)',
    );
  });

  it('an error without a code is INTERNAL: exit 1, no code, points at the node log', async () => {
    const r = await seen(new Error('boom'));
    expect(r.call.tandemCode).toBeUndefined();
    expect(r.call.grpcCode).toBe(13); // INTERNAL
    expect(r.exit).toBe(1);
    expect(r.line).toBe('tandemctl: status: boom — see the node log for details');
  });
});
