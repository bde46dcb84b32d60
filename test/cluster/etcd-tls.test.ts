// etcd as the tests (and deploy/local/cluster) run it: client TLS with client certificates
// (issue 12: "the cluster tests run etcd with client TLS"). A client with a certificate from the
// CA gets in; plaintext, no certificate, or a certificate from another CA gets nothing — so a
// cluster test that passes proves its nodes spoke TLS to etcd.
import { Etcd3, type IOptions } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCert } from '../../src/security/ca.js';
import { type Etcd, httpsGet, startEtcd } from '../helpers/etcd.js';

let etcd: Etcd;
beforeAll(async () => {
  etcd = await startEtcd();
}, 30_000);
afterAll(async () => {
  await etcd?.kill();
});

const clients: Etcd3[] = [];
afterAll(() => {
  for (const c of clients) c.close();
});
function client(opts: IOptions): Etcd3 {
  const c = new Etcd3({ ...opts, dialTimeout: 3000 });
  clients.push(c);
  return c;
}

describe('test etcd: client TLS required', () => {
  it('a client with a certificate from the CA reads and writes', async () => {
    expect(etcd.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const c = client({ hosts: [etcd.endpoint], credentials: etcd.credentials });
    await c.put('/tls-test/k').value('v');
    expect(await c.get('/tls-test/k').string()).toBe('v');
    const health = await httpsGet(`${etcd.endpoint}/health`, etcd.credentials);
    expect(JSON.parse(health.body)).toMatchObject({ health: 'true' });
  });

  it('a plaintext gRPC client gets nothing', async () => {
    const c = client({ hosts: [etcd.endpoint.replace('https:', 'http:')] });
    await expect(c.get('/tls-test/k').string()).rejects.toThrow();
  });

  it('plaintext HTTP gets no health answer', async () => {
    const res = await fetch(`${etcd.endpoint.replace('https:', 'http:')}/health`, {
      signal: AbortSignal.timeout(3000),
    }).then(
      async (r) => ({ status: r.status, body: await r.text() }),
      (err: unknown) => ({ status: 0, body: String(err) }),
    );
    // Go's TLS listener answers a plaintext request with 400 "client sent an HTTP request to an
    // HTTPS server", or drops it; either way no health.
    expect(res.status === 0 || res.status === 400, `${res.status} ${res.body}`).toBe(true);
    expect(res.body).not.toContain('"health":"true"');
  });

  it('TLS without a client certificate is refused at the handshake', async () => {
    await expect(
      httpsGet(`${etcd.endpoint}/health`, { rootCertificate: etcd.credentials.rootCertificate }, 3000),
    ).rejects.toThrow(/certificate|handshake|socket hang up|ECONNRESET/i);
    const c = client({
      hosts: [etcd.endpoint],
      credentials: { rootCertificate: etcd.credentials.rootCertificate },
    });
    await expect(c.get('/tls-test/k').string()).rejects.toThrow();
  });

  it('a client certificate from another CA is refused', async () => {
    const other = await createCa('another CA');
    const pair = await issueCert(other, { name: 'intruder', kind: 'admin' });
    const creds = {
      rootCertificate: etcd.credentials.rootCertificate,
      certChain: Buffer.from(pair.certPem),
      privateKey: Buffer.from(pair.keyPem),
    };
    await expect(httpsGet(`${etcd.endpoint}/health`, creds, 3000)).rejects.toThrow(
      /certificate|handshake|socket hang up|ECONNRESET/i,
    );
    const c = client({ hosts: [etcd.endpoint], credentials: creds });
    await expect(c.get('/tls-test/k').string()).rejects.toThrow();
  });
});
