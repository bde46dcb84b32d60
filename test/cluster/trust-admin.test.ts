// Issue #12, attack 3 and check 4, against the admin API of a 2-node TLS cluster
// (deploy/local/cluster creates the CA, the node certificates and an admin client certificate):
// no client certificate → UNAUTHENTICATED; another CA's certificate → refused at the handshake;
// read-only → status works, PutConfig PERMISSION_DENIED; no read reply carries a CHAP secret;
// a volume path `../../x` or `/etc/passwd` → refused, no file created; tandemctl without
// credentials → one line, exit 6, fast. The nodes' status fan-out runs on their own certificates.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { AdminCallError, AdminClient } from '../../src/admin/admin-client.js';
import { createCa, issueCert } from '../../src/security/ca.js';
import { codeOf } from '../helpers/admin-call.js';
import { type Cluster, startCluster, TANDEMCTL, tandemctl } from '../helpers/cluster.js';
import { explain, run } from '../helpers/tools.js';

const SECRET = 'clusterChap0001';

describe('trust: the admin API of a TLS cluster', () => {
  let cluster: Cluster;
  let admin: string;
  let tls: string;
  let scratch: string;
  const clients: AdminClient[] = [];
  const read = (f: string) => readFileSync(path.join(tls, f));
  const client = (o: { cert?: Buffer; key?: Buffer; ca?: Buffer }) => {
    const c = new AdminClient(admin, { timeoutMs: 5000, tls: { ca: o.ca ?? read('ca.crt'), ...o } });
    clients.push(c);
    return c;
  };
  const asAdmin = () => client({ cert: read('admin.crt'), key: read('admin.key') });
  const ca = () => ({ certPem: read('ca.crt').toString(), keyPem: read('ca.key').toString() });

  beforeAll(async () => {
    if (!existsSync(TANDEMCTL)) throw new Error(`${TANDEMCTL} not found: run \`npm run build\` first`);
    cluster = await startCluster({ nodes: 2, size: '16M' });
    admin = cluster.node('a').admin!;
    tls = path.join(cluster.dir, 'tls');
    scratch = mkdtempSync(path.join(tmpdir(), 'tandem-trust-admin-'));
    const secretFile = path.join(scratch, 'secret');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    const r = await tandemctl(admin, [
      'chap',
      'set',
      cluster.target,
      '--user',
      'host1',
      '--secret-file',
      secretFile,
    ]);
    expect(r.code, explain(r)).toBe(0);
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    await cluster?.down();
  });

  it('no client certificate: UNAUTHENTICATED', async () => {
    const c = client({});
    expect(await codeOf(c.status())).toBe(grpc.status.UNAUTHENTICATED);
    expect(await codeOf(c.putConfig('volumes', 'x', { id: 'x' }))).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('an admin certificate from another CA: refused at the handshake', async () => {
    const other = await issueCert(await createCa('someone else'), { name: 'admin', kind: 'admin' });
    const c = client({ cert: Buffer.from(other.certPem), key: Buffer.from(other.keyPem) });
    expect(await codeOf(c.status())).toBe(grpc.status.UNAVAILABLE);
  });

  it('read-only: status works, PutConfig PERMISSION_DENIED and nothing is written', async () => {
    const p = await issueCert(ca(), { name: 'viewer', kind: 'read-only' });
    const ro = client({ cert: Buffer.from(p.certPem), key: Buffer.from(p.keyPem) });
    expect((await ro.status()).nodes.map((n) => n.name).sort()).toEqual(['a', 'b']);
    const put = ro.putConfig('volumes', 'ro-vol', { id: 'ro-vol', kind: 'shared', size: 1 << 20 });
    expect(await codeOf(put)).toBe(grpc.status.PERMISSION_DENIED);
    expect(await asAdmin().getConfig('volumes', 'ro-vol')).toBeUndefined();
  });

  it('no read reply contains the CHAP secret (ListConfig, GetConfig, ExportConfig, status)', async () => {
    const c = asAdmin();
    const replies = [
      await c.listConfig(),
      await c.getConfig('targets', cluster.target),
      await c.exportConfig(false),
      await c.status(),
      await c.nodeStatus(),
    ];
    for (const r of replies) expect(JSON.stringify(r)).not.toContain(SECRET);
    // The secret is there: an admin who asks explicitly gets it.
    expect((await c.exportConfig(true)).yaml).toContain(SECRET);
  });

  it('status: the nodes reach each other over their own certificates (no fan-out warning)', async () => {
    const s = await asAdmin().status();
    expect(s.warnings.filter((w) => /NodeStatus|insecure/.test(w))).toEqual([]);
  });

  it.each(['../../x', '/etc/passwd'])(
    'PutConfig of a volume with path %s is refused; no file created',
    async (p) => {
      const info = cluster.info.nodes.find((n) => n.name === 'a')!;
      const cfg = YAML.parse(readFileSync(info.config, 'utf8')) as { node: { dataDir: string } };
      const outside = path.resolve(path.dirname(info.config), cfg.node.dataDir, p);
      const before = existsSync(outside);
      const vol = { id: 'evil', kind: 'shared', size: 1 << 20, blockSize: 512, path: p };
      const err = await asAdmin()
        .putConfig('volumes', 'evil', vol)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AdminCallError);
      expect((err as AdminCallError).grpcCode).toBe(grpc.status.INVALID_ARGUMENT);
      expect((err as AdminCallError).message).toContain(`path ${JSON.stringify(p)} refused`);
      expect(existsSync(outside)).toBe(before);
      expect(await asAdmin().getConfig('volumes', 'evil')).toBeUndefined();
    },
  );

  it('tandemctl without credentials: one line, exit 6, fast; with them: status works', async () => {
    const env = { TANDEM_CA: '', TANDEM_CERT: '', TANDEM_KEY: '', TANDEM_TLS_DIR: '', TANDEM_ENDPOINT: '' };
    const t0 = performance.now();
    // cwd: a directory without data/tls, so nothing is found by default.
    const r = await run(process.execPath, [TANDEMCTL, '--endpoint', admin, 'status'], { env, cwd: scratch });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r.code, explain(r)).toBe(6);
    expect(r.stderr).toMatch(
      /^tandemctl: cannot talk to .* in plaintext .*the node requires TLS — .*--ca\/--cert\/--key/,
    );
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    const caOnly = await run(
      process.execPath,
      [TANDEMCTL, '--endpoint', admin, '--ca', path.join(tls, 'ca.crt'), 'status'],
      {
        env,
        cwd: scratch,
      },
    );
    expect(caOnly.code, explain(caOnly)).toBe(6);
    expect(caOnly.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(caOnly.stderr).toMatch(/^tandemctl: status: refused: no client certificate/);
    const ok = await tandemctl(admin, ['status']);
    expect(ok.code, explain(ok)).toBe(0);
  });
});
