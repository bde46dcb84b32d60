import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createCa, describeCert, issueCert } from '../../../src/security/ca.js';
import { identityOfCertificate } from '../../../src/security/peer-identity.js';

/** A real TLS handshake between a server and a client with the given material. */
async function handshake(
  server: { ca: string; cert: string; key: string },
  client: { ca: string; cert?: string; key?: string },
): Promise<{ ok: boolean; peer?: tls.PeerCertificate; error?: string }> {
  const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: true });
  let peer: tls.PeerCertificate | undefined;
  srv.on('secureConnection', (s) => {
    peer = s.getPeerCertificate();
    s.end();
  });
  srv.on('tlsClientError', () => {});
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as AddressInfo).port;
  try {
    return await new Promise((resolve) => {
      const c = tls.connect({ port, host: '127.0.0.1', servername: 'a', ...client }, () => {
        c.on('close', () => resolve({ ok: peer !== undefined, ...(peer ? { peer } : {}) }));
        c.resume();
      });
      c.on('error', (e) => resolve({ ok: false, error: e.message }));
    });
  } finally {
    srv.close();
  }
}

describe('cluster CA', () => {
  it('issues node and client certificates that verify against the CA and carry the identity', async () => {
    const ca = await createCa();
    const node = await issueCert(ca, { name: 'a', kind: 'node', ipAddresses: ['127.0.0.1'] });
    const admin = await issueCert(ca, { name: 'ops', kind: 'admin' });
    expect(describeCert(node.certPem).subject).toBe('CN=a, OU=node');
    const r = await handshake(
      { ca: ca.certPem, cert: node.certPem, key: node.keyPem },
      { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem },
    );
    expect(r.ok).toBe(true);
    expect(identityOfCertificate(r.peer)).toEqual({ name: 'ops', kind: 'admin' });
  });

  it('a certificate from another CA is refused in the handshake', async () => {
    const ca = await createCa();
    const other = await createCa('other');
    const node = await issueCert(ca, { name: 'a', kind: 'node' });
    const intruder = await issueCert(other, { name: 'a', kind: 'node' });
    const r = await handshake(
      { ca: ca.certPem, cert: node.certPem, key: node.keyPem },
      { ca: ca.certPem, cert: intruder.certPem, key: intruder.keyPem },
    );
    expect(r.ok).toBe(false);
  });

  it('refuses names that do not fit a distinguished name', async () => {
    const ca = await createCa();
    await expect(issueCert(ca, { name: 'a,OU=admin', kind: 'read-only' })).rejects.toThrow(
      /certificate name/,
    );
  });
});
