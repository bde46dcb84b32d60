// The Prometheus endpoint's optional TLS and basic auth (issue 12; src/admin/metrics-web.ts):
// with tls, plain HTTP gets nothing and HTTPS with the CA gets the metrics; with clientCa a
// client certificate is required; with basicAuth no or wrong credentials get 401, the right
// ones 200 with the metrics.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nodeConfigSchema } from '../../../src/admin/config-schema.js';
import { Metrics } from '../../../src/admin/metrics.js';
import { isLoopbackHost, loadMetricsWeb, type MetricsWeb } from '../../../src/admin/metrics-web.js';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../../src/security/basic-auth.js';
import { createCa, issueCert, type PemPair } from '../../../src/security/ca.js';
import { silentLogger } from '../../../src/util/logger.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(
  url: string,
  opts: { ca?: string; cert?: string; key?: string; auth?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}),
        ...(opts.auth ? { headers: { authorization: opts.auth } } : {}),
        timeout: 3000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function plain(url: string, auth?: string): Promise<Reply> {
  const r = await fetch(url, { ...(auth ? { headers: { authorization: auth } } : {}) });
  return { status: r.status, headers: Object.fromEntries(r.headers), body: await r.text() };
}

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

let ca: PemPair;
let server: PemPair;
let client: PemPair;
let otherClient: PemPair;
const dir = mkdtempSync(path.join(os.tmpdir(), 'metrics-web-'));
beforeAll(async () => {
  ca = await createCa('metrics test CA');
  server = await issueCert(ca, { name: 'node-a', kind: 'node', ipAddresses: ['127.0.0.1'] });
  client = await issueCert(ca, { name: 'prometheus', kind: 'read-only' });
  otherClient = await issueCert(await createCa('another CA'), { name: 'prometheus', kind: 'read-only' });
  writeFileSync(path.join(dir, 'ca.crt'), ca.certPem);
  writeFileSync(path.join(dir, 'node-a.crt'), server.certPem);
  writeFileSync(path.join(dir, 'node-a.key'), server.keyPem, { mode: 0o600 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const open: Metrics[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});
async function listen(web: MetricsWeb): Promise<string> {
  const m = new Metrics({ sessions: () => [{ target: 'iqn.x:t', portal: 'p' }], aluaStates: () => [] });
  open.push(m);
  await m.listen('127.0.0.1', 0, silentLogger(), web);
  return m.address!;
}

describe('metrics endpoint: tls', () => {
  it('plain HTTP is refused; HTTPS with the CA gets the metrics', async () => {
    const addr = await listen(loadMetricsWeb({ tls: { cert: 'node-a.crt', key: 'node-a.key' } }, dir));
    await expect(plain(`http://${addr}/metrics`)).rejects.toThrow();
    const r = await get(`https://${addr}/metrics`, { ca: ca.certPem });
    expect(r.status).toBe(200);
    expect(r.body).toContain('tandem_iscsi_sessions{target="iqn.x:t",portal="p"} 1');
    // Without the CA the server's certificate is not trusted.
    await expect(get(`https://${addr}/metrics`)).rejects.toThrow(/self.signed|unable to verify|certificate/i);
  });

  it('clientCa: a client certificate from it is required', async () => {
    const addr = await listen(
      loadMetricsWeb({ tls: { cert: 'node-a.crt', key: 'node-a.key', clientCa: 'ca.crt' } }, dir),
    );
    await expect(get(`https://${addr}/metrics`, { ca: ca.certPem })).rejects.toThrow();
    await expect(
      get(`https://${addr}/metrics`, { ca: ca.certPem, cert: otherClient.certPem, key: otherClient.keyPem }),
    ).rejects.toThrow();
    const r = await get(`https://${addr}/metrics`, {
      ca: ca.certPem,
      cert: client.certPem,
      key: client.keyPem,
    });
    expect(r.status).toBe(200);
    expect(r.body).toContain('tandem_iscsi_sessions');
  });

  it('a missing file or a key of another certificate stops the start, naming the key', () => {
    expect(() => loadMetricsWeb({ tls: { cert: 'nope.crt', key: 'node-a.key' } }, dir)).toThrow(
      /metrics\.tls\.cert: cannot read .*nope\.crt: ENOENT/,
    );
    writeFileSync(path.join(dir, 'other.key'), client.keyPem, { mode: 0o600 });
    expect(() => loadMetricsWeb({ tls: { cert: 'node-a.crt', key: 'other.key' } }, dir)).toThrow(
      /metrics\.tls: .*not the certificate/,
    );
  });
});

describe('metrics endpoint: basicAuth', () => {
  it('no or wrong credentials: 401 with a Basic challenge; the right ones: 200 with the metrics', async () => {
    const hash = await hashPassword('scrape-me', 14);
    const addr = await listen(loadMetricsWeb({ basicAuth: { prometheus: hash } }, dir));
    const url = `http://${addr}/metrics`;
    const none = await plain(url);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm="tandem metrics"/);
    expect(none.body).not.toContain('tandem_');
    expect((await plain(url, basic('prometheus', 'wrong'))).status).toBe(401);
    expect((await plain(url, basic('someone', 'scrape-me'))).status).toBe(401);
    expect((await plain(url, 'Bearer scrape-me')).status).toBe(401);
    expect((await plain(url, 'Basic !!!')).status).toBe(401);
    for (let i = 0; i < 2; i++) {
      // twice: the second is answered from the verified cache, with the same result
      const ok = await plain(url, basic('prometheus', 'scrape-me'));
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('tandem_iscsi_sessions');
    }
    expect((await plain(url, basic('prometheus', 'scrape-me!'))).status).toBe(401);
  });

  it('tls and basicAuth together', async () => {
    const addr = await listen(
      loadMetricsWeb(
        { tls: { cert: 'node-a.crt', key: 'node-a.key' }, basicAuth: { p: await hashPassword('pw', 14) } },
        dir,
      ),
    );
    expect((await get(`https://${addr}/metrics`, { ca: ca.certPem })).status).toBe(401);
    const ok = await get(`https://${addr}/metrics`, { ca: ca.certPem, auth: basic('p', 'pw') });
    expect(ok.status).toBe(200);
  });

  it('hashes: scrypt PHC strings verify; bcrypt and weak parameters are refused with a reason', async () => {
    const h = parsePasswordHash(await hashPassword('secret', 14));
    expect(await verifyPassword('secret', h)).toBe(true);
    expect(await verifyPassword('Secret', h)).toBe(false);
    expect(() => parsePasswordHash('$2y$10$abcdefghijklmnopqrstuu5sQ0k8lW5sW2H0U1Hq3i0pVbZQ8wK6')).toThrow(
      /bcrypt hash: Tandem takes scrypt hashes/,
    );
    expect(() => parsePasswordHash('$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$' + 'A'.repeat(43))).toThrow(
      /out of range/,
    );
    expect(() => parsePasswordHash('secret')).toThrow(/not a password hash/);
  });

  it('the node file schema takes tls and basicAuth under metrics: and refuses a bad hash by key', async () => {
    const hash = await hashPassword('pw', 14);
    const ok = nodeConfigSchema.safeParse({
      metrics: { listen: '10.0.0.11:9464', tls: { cert: 'a.crt', key: 'a.key' }, basicAuth: { prom: hash } },
    });
    expect(ok.success ? [] : ok.error.issues).toEqual([]);
    const bad = nodeConfigSchema.safeParse({
      metrics: { listen: '10.0.0.11:9464', basicAuth: { prom: 'pw' } },
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['metrics', 'basicAuth', 'prom']);
  });

  it('loopback hosts', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].map(isLoopbackHost)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['0.0.0.0', '10.0.0.11', '::'].map(isLoopbackHost)).toEqual([false, false, false]);
  });
});
