import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCaDir, issueNodeFiles } from '../../../src/security/cert-files.js';
import { checkPeerNode, clusterPeerSecurity, loadTls } from '../../../src/security/tls.js';
import { silentLogger } from '../../../src/util/logger.js';

describe('security/tls', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tls-'));
  const files = { ca: 'pki/ca.crt', cert: 'pki/n1.crt', key: 'pki/n1.key' };
  beforeAll(async () => {
    await initCaDir(path.join(dir, 'pki'));
    await issueNodeFiles(path.join(dir, 'pki'), 'n1');
    await issueNodeFiles(path.join(dir, 'pki'), 'n2');
    await initCaDir(path.join(dir, 'other'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the files under dataDir', () => {
    const m = loadTls(files, dir);
    expect(m.cert.toString()).toMatch(/BEGIN CERTIFICATE/);
  });
  it('names the key and file when one is missing', () => {
    expect(() => loadTls({ ...files, key: 'pki/nope.key' }, dir)).toThrow(
      /tls\.key: cannot read .*nope\.key: ENOENT/,
    );
  });
  it('refuses a key that is not the certificate’s', () => {
    expect(() => loadTls({ ...files, key: 'pki/n2.key' }, dir)).toThrow(
      /tls\.key: .*n2\.key is not the key of tls\.cert/,
    );
  });
  it('refuses a certificate from another CA', () => {
    expect(() => loadTls({ ...files, ca: 'other/ca.crt' }, dir)).toThrow(
      /tls\.cert: .* not signed by a CA in tls\.ca/,
    );
  });
  it('a cluster node with neither tls nor insecure: true refuses to start', () => {
    expect(() => clusterPeerSecurity({ node: { dataDir: dir }, insecure: false }, silentLogger())).toThrow(
      /a cluster node needs tls:/,
    );
    expect(clusterPeerSecurity({ node: { dataDir: dir }, insecure: true }, silentLogger()).secure).toBe(
      false,
    );
  });
  it('a dialed peer must present that node’s certificate', () => {
    const cert = { subject: { CN: 'n2', OU: 'node' } } as unknown as Parameters<typeof checkPeerNode>[1];
    expect(checkPeerNode('n2', cert)).toBeUndefined();
    expect(checkPeerNode('n1', cert)?.message).toMatch(/expected node n1/);
    const admin = { subject: { CN: 'n1', OU: 'admin' } } as unknown as Parameters<typeof checkPeerNode>[1];
    expect(checkPeerNode('n1', admin)).toBeInstanceOf(Error);
  });
});
