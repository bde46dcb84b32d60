// Issue #12, the admin API: TLS with client certificates and a role per call, against the real
// AdminServer over loopback (fake backend). No certificate: the handshake succeeds and every call
// answers UNAUTHENTICATED; another CA's certificate: the connection is dropped at the handshake;
// read-only: reads pass, writes, Verify and secrets are PERMISSION_DENIED before the backend is
// called; a node certificate: only the calls a node forwards. A plaintext server says so in Status.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminCallError, AdminClient, type AdminClientTls } from '../../../src/admin/admin-client.js';
import { AdminServer, INSECURE_WARNING } from '../../../src/admin/admin-server.js';
import { createCa, issueCert, type PemPair } from '../../../src/security/ca.js';
import { silentLogger } from '../../../src/util/logger.js';
import { codeOf } from '../../helpers/admin-call.js';
import { FakeBackend } from './admin-fake-backend.js';

const buf = (s: string) => Buffer.from(s);

describe('admin API over mutual TLS', () => {
  let ca: PemPair;
  let backend: FakeBackend;
  let server: AdminServer;
  const clients: AdminClient[] = [];

  const client = (tls: AdminClientTls | undefined) => {
    const c = new AdminClient(server.address, { timeoutMs: 3000, tls });
    clients.push(c);
    return c;
  };
  const as = async (kind: 'admin' | 'read-only' | 'node', name: string, from = ca) => {
    const p = await issueCert(from, { name, kind });
    return client({ ca: buf(ca.certPem), cert: buf(p.certPem), key: buf(p.keyPem) });
  };

  beforeAll(async () => {
    ca = await createCa('test cluster');
    const node = await issueCert(ca, { name: 'a', kind: 'node', ipAddresses: ['127.0.0.1'] });
    backend = new FakeBackend();
    backend.seed('targets', 'iqn.2026-11.org.tandem:t', {
      iqn: 'iqn.2026-11.org.tandem:t',
      auth: { chap: { user: 'host1', secret: 'topsecret0001' } },
    });
    server = await AdminServer.listen('127.0.0.1:0', backend, silentLogger(), {
      tls: { ca: buf(ca.certPem), cert: buf(node.certPem), key: buf(node.keyPem) },
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  it('no client certificate: every call UNAUTHENTICATED with what to do; the backend is not called', async () => {
    const c = client({ ca: buf(ca.certPem) });
    const before = backend.calls.length;
    const err = await c.status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminCallError);
    expect((err as AdminCallError).grpcCode).toBe(grpc.status.UNAUTHENTICATED);
    expect((err as AdminCallError).message).toMatch(/--ca\/--cert\/--key|TANDEM_CERT/);
    expect(await codeOf(c.putConfig('volumes', 'v', { id: 'v' }))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await codeOf(c.verify('vol0', () => {}))).toBe(grpc.status.UNAUTHENTICATED);
    expect(backend.calls.length).toBe(before);
  });

  it('an admin certificate of another CA: refused at the handshake (UNAVAILABLE, no call)', async () => {
    const other = await createCa('someone else');
    const c = await as('admin', 'ops', other);
    const before = backend.calls.length;
    expect(await codeOf(c.status())).toBe(grpc.status.UNAVAILABLE);
    expect(backend.calls.length).toBe(before);
  });

  it('a client that does not trust the cluster CA refuses the node (UNAVAILABLE)', async () => {
    const other = await createCa('someone else');
    const p = await issueCert(ca, { name: 'ops', kind: 'admin' });
    const c = client({ ca: buf(other.certPem), cert: buf(p.certPem), key: buf(p.keyPem) });
    expect(await codeOf(c.status())).toBe(grpc.status.UNAVAILABLE);
  });

  it('read-only: status, reads and metrics pass; writes, verify and secrets PERMISSION_DENIED', async () => {
    const ro = await as('read-only', 'viewer');
    expect(await codeOf(ro.status())).toBe('ok');
    expect(await codeOf(ro.nodeStatus())).toBe('ok');
    expect(await codeOf(ro.listConfig())).toBe('ok');
    expect(await codeOf(ro.metricsText())).toBe('ok');
    expect(await codeOf(ro.exportConfig(false))).toBe('ok');
    const writes = backend.calls.length;
    expect(await codeOf(ro.putConfig('volumes', 'v', { id: 'v' }))).toBe(grpc.status.PERMISSION_DENIED);
    expect(await codeOf(ro.deleteConfig('targets', 'iqn.2026-11.org.tandem:t'))).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    expect(await codeOf(ro.importConfig('apiVersion: tandem/v1\n', true))).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    expect(await codeOf(ro.switchover('vol0', undefined))).toBe(grpc.status.PERMISSION_DENIED);
    expect(await codeOf(ro.verify('vol0', () => {}))).toBe(grpc.status.PERMISSION_DENIED);
    expect(await codeOf(ro.exportConfig(true))).toBe(grpc.status.PERMISSION_DENIED);
    expect(backend.calls.slice(writes).map((x) => x.method)).toEqual([]);
    const err = (await ro.putConfig('volumes', 'v', { id: 'v' }).catch((e: unknown) => e)) as AdminCallError;
    expect(err.message).toMatch(/PutConfig needs the admin role; viewer has a read-only certificate/);
    expect(err.message).not.toMatch(/\n/);
  });

  it('no read reply carries the CHAP secret; an admin asking explicitly gets it', async () => {
    const admin = await as('admin', 'ops');
    const ro = await as('read-only', 'viewer');
    for (const c of [admin, ro]) {
      const replies = [
        await c.listConfig(),
        await c.getConfig('targets', 'iqn.2026-11.org.tandem:t'),
        await c.exportConfig(false),
        await c.status(),
        await c.nodeStatus(),
      ];
      for (const r of replies) expect(JSON.stringify(r)).not.toContain('topsecret0001');
    }
    expect((await admin.exportConfig(true)).yaml).toContain('topsecret0001');
  });

  it('a node certificate: the forwarded calls only (NodeStatus, Switchover, Verify)', async () => {
    const b = await as('node', 'b');
    expect(await codeOf(b.nodeStatus())).toBe('ok');
    expect(await codeOf(b.switchover('vol0', undefined))).not.toBe(grpc.status.PERMISSION_DENIED);
    expect(await codeOf(b.status())).toBe(grpc.status.PERMISSION_DENIED);
    expect(await codeOf(b.putConfig('volumes', 'v', { id: 'v' }))).toBe(grpc.status.PERMISSION_DENIED);
    expect(await codeOf(b.exportConfig(false))).toBe(grpc.status.PERMISSION_DENIED);
  });
});

describe('admin API in plaintext (insecure: true)', () => {
  it('answers without credentials and says it is insecure in Status', async () => {
    const server = await AdminServer.listen('127.0.0.1:0', new FakeBackend(), silentLogger());
    const c = new AdminClient(server.address, { timeoutMs: 3000 });
    try {
      const s = await c.status();
      expect(s.warnings.some((w) => w.includes(INSECURE_WARNING))).toBe(true);
      expect(server.secure).toBe(false);
    } finally {
      c.close();
      await server.close();
    }
  });
});
