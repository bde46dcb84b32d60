// Issue #12, zero-setup embedded mode: <dataDir>/tls is created once (0700, keys 0600), what
// exists is never overwritten, a half pair is an error, and the files load as the admin API's
// TLS material with the right identities.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adminTls } from '../../../src/security/admin-tls.js';
import { EMBEDDED_FILES, ensureEmbeddedTls } from '../../../src/security/embedded-ca.js';
import { silentLogger } from '../../../src/util/logger.js';

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'tandem-embedded-ca-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('embedded node credentials', () => {
  it('creates the CA, the node and the admin certificate with private modes', async () => {
    const data = temp();
    const t = await ensureEmbeddedTls(data, 'tandem-1');
    expect([...t.created].sort()).toEqual(Object.values(EMBEDDED_FILES).sort());
    expect(statSync(t.dir).mode & 0o777).toBe(0o700);
    for (const k of [EMBEDDED_FILES.caKey, EMBEDDED_FILES.key, EMBEDDED_FILES.adminKey]) {
      expect(statSync(path.join(t.dir, k)).mode & 0o777).toBe(0o600);
    }
    const cert = (f: string) => new X509Certificate(readFileSync(path.join(t.dir, f)));
    const ca = cert(EMBEDDED_FILES.ca);
    expect(cert(EMBEDDED_FILES.cert).subject).toMatch(/CN=tandem-1\nOU=node|OU=node\nCN=tandem-1/);
    expect(cert(EMBEDDED_FILES.cert).checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert(EMBEDDED_FILES.adminCert).subject).toContain('OU=admin');
    expect(cert(EMBEDDED_FILES.adminCert).verify(ca.publicKey)).toBe(true);
  });

  it('never overwrites: a second start keeps every file; a lost admin pair is re-issued alone', async () => {
    const data = temp();
    const t = await ensureEmbeddedTls(data, 'tandem-1');
    const before = Object.values(EMBEDDED_FILES).map((f) => readFileSync(path.join(t.dir, f), 'utf8'));
    expect((await ensureEmbeddedTls(data, 'tandem-1')).created).toEqual([]);
    expect(Object.values(EMBEDDED_FILES).map((f) => readFileSync(path.join(t.dir, f), 'utf8'))).toEqual(
      before,
    );
    unlinkSync(path.join(t.dir, EMBEDDED_FILES.adminCert));
    unlinkSync(path.join(t.dir, EMBEDDED_FILES.adminKey));
    const again = await ensureEmbeddedTls(data, 'tandem-1');
    expect([...again.created].sort()).toEqual([EMBEDDED_FILES.adminCert, EMBEDDED_FILES.adminKey].sort());
    expect(readFileSync(path.join(t.dir, EMBEDDED_FILES.ca), 'utf8')).toBe(before[0]);
  });

  it('a certificate without its key is an error naming both, and nothing is replaced', async () => {
    const data = temp();
    const t = await ensureEmbeddedTls(data, 'tandem-1');
    unlinkSync(path.join(t.dir, EMBEDDED_FILES.key));
    const cert = readFileSync(path.join(t.dir, EMBEDDED_FILES.cert), 'utf8');
    await expect(ensureEmbeddedTls(data, 'tandem-1')).rejects.toThrow(
      /node\.key is missing but .*node\.crt exists/,
    );
    expect(readFileSync(path.join(t.dir, EMBEDDED_FILES.cert), 'utf8')).toBe(cert);
  });

  it('a power cut during the first start (a key written, its certificate not yet) is recovered: the lone key is made again', async () => {
    const data = temp();
    const t = await ensureEmbeddedTls(data, 'tandem-1');
    // What a cut between the admin key and its certificate leaves.
    unlinkSync(path.join(t.dir, EMBEDDED_FILES.adminCert));
    const oldKey = readFileSync(path.join(t.dir, EMBEDDED_FILES.adminKey), 'utf8');
    const again = await ensureEmbeddedTls(data, 'tandem-1');
    expect([...again.created].sort()).toEqual([EMBEDDED_FILES.adminCert, EMBEDDED_FILES.adminKey].sort());
    expect(readFileSync(path.join(t.dir, EMBEDDED_FILES.adminKey), 'utf8')).not.toBe(oldKey);
    // A cut right after the CA's key: nothing else exists yet, so the whole set is made.
    const fresh = temp();
    const first = await ensureEmbeddedTls(fresh, 'tandem-1');
    for (const f of [
      EMBEDDED_FILES.ca,
      EMBEDDED_FILES.cert,
      EMBEDDED_FILES.key,
      EMBEDDED_FILES.adminCert,
      EMBEDDED_FILES.adminKey,
    ])
      unlinkSync(path.join(first.dir, f));
    expect((await ensureEmbeddedTls(fresh, 'tandem-1')).created.length).toBe(6);
    // But the CA's key with certificates it signed still there is the operator's to sort out.
    unlinkSync(path.join(first.dir, EMBEDDED_FILES.ca));
    await expect(ensureEmbeddedTls(fresh, 'tandem-1')).rejects.toThrow(
      /ca\.crt is missing but .*ca\.key exists/,
    );
    // No temporary file is left behind by the durable writes.
    expect(readdirSync(first.dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('adminTls: tls: files win, insecure is plaintext, embedded creates, a cluster node without either is refused', async () => {
    const log = silentLogger();
    const data = temp();
    const embedded = await adminTls({ node: { dataDir: data, name: 'n1' }, insecure: false }, log);
    expect(embedded?.cert.toString()).toBe(readFileSync(path.join(data, 'tls', EMBEDDED_FILES.cert), 'utf8'));
    expect(await adminTls({ node: { dataDir: temp(), name: 'n1' }, insecure: true }, log)).toBeUndefined();
    const given = await adminTls(
      {
        node: { dataDir: data, name: 'n1' },
        insecure: false,
        cluster: {},
        tls: { ca: 'tls/ca.crt', cert: 'tls/admin.crt', key: 'tls/admin.key' },
      },
      log,
    );
    expect(given?.cert.toString()).toBe(
      readFileSync(path.join(data, 'tls', EMBEDDED_FILES.adminCert), 'utf8'),
    );
    const bare = temp();
    await expect(
      adminTls({ node: { dataDir: bare, name: 'n1' }, insecure: false, cluster: {} }, log),
    ).rejects.toThrow(/a cluster node needs tls:/);
    // Refused before anything is created.
    expect(() => statSync(path.join(bare, 'tls'))).toThrow();
  });
});
