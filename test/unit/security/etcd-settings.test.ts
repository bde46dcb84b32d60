// etcdClientSettings: the node file's cluster.etcd (either form) → what the etcd3 client takes
// (hosts, credentials, auth). test/cluster/etcd-auth.test.ts runs the result against etcd.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCaDir, issueNodeFiles } from '../../../src/security/cert-files.js';
import { etcdClientSettings } from '../../../src/security/tls.js';
import { type Logger, silentLogger } from '../../../src/util/logger.js';

function memoryLogger(): { logger: Logger; records: Array<{ level: number; msg: string }> } {
  const records: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) records.push(JSON.parse(l));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), records };
}

describe('security/tls etcdClientSettings', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'etcd-settings-'));
  const read = (f: string) => readFileSync(path.join(dir, f));
  const nodeTls = { ca: 'pki/ca.crt', cert: 'pki/n1.crt', key: 'pki/n1.key' };
  const https = ['https://10.0.0.11:2379', 'https://10.0.0.12:2379'];
  beforeAll(async () => {
    await initCaDir(path.join(dir, 'pki'));
    await issueNodeFiles(path.join(dir, 'pki'), 'n1');
    await initCaDir(path.join(dir, 'etcd-pki'));
    await issueNodeFiles(path.join(dir, 'etcd-pki'), 'n1-etcd');
    writeFileSync(path.join(dir, 'pw'), 's3cret\n', { mode: 0o600 });
    writeFileSync(path.join(dir, 'pw-open'), 's3cret\n', { mode: 0o644 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = (extra: { insecure?: boolean; tls?: typeof nodeTls } = {}) => ({
    node: { dataDir: dir },
    insecure: extra.insecure ?? false,
    ...(extra.tls ? { tls: extra.tls } : {}),
  });

  it('a URL list with insecure: true: endpoints only, no warning', () => {
    const log = memoryLogger();
    const s = etcdClientSettings(['http://127.0.0.1:2379'], cfg({ insecure: true }), log.logger);
    expect(s).toEqual({ endpoints: ['http://127.0.0.1:2379'] });
    expect(log.records.filter((r) => r.level >= 40)).toEqual([]);
  });

  it('plaintext etcd without insecure: true is logged as a warning', () => {
    const log = memoryLogger();
    etcdClientSettings(['http://10.0.0.11:2379'], cfg({ tls: nodeTls }), log.logger);
    expect(log.records.find((r) => r.level === 40)?.msg).toMatch(/plaintext \(http:\/\/\) etcd endpoints/);
  });

  it('https URL list: the CA and client certificate default to the node tls: files', () => {
    const s = etcdClientSettings(https, cfg({ tls: nodeTls }), silentLogger());
    expect(s.endpoints).toEqual(https);
    expect(s.credentials).toEqual({
      rootCertificate: read('pki/ca.crt'),
      certChain: read('pki/n1.crt'),
      privateKey: read('pki/n1.key'),
    });
    expect(s.auth).toBeUndefined();
  });

  it('the object form: its own CA, certificate and key win over tls:', () => {
    const s = etcdClientSettings(
      { endpoints: https, ca: 'etcd-pki/ca.crt', cert: 'etcd-pki/n1-etcd.crt', key: 'etcd-pki/n1-etcd.key' },
      cfg({ tls: nodeTls }),
      silentLogger(),
    );
    expect(s.credentials).toEqual({
      rootCertificate: read('etcd-pki/ca.crt'),
      certChain: read('etcd-pki/n1-etcd.crt'),
      privateKey: read('etcd-pki/n1-etcd.key'),
    });
  });

  it('user + passwordFile (0600) become etcd3 auth; the trailing newline is not the password', () => {
    const s = etcdClientSettings(
      { endpoints: https, user: 'tandem', passwordFile: 'pw' },
      cfg({ tls: nodeTls }),
      silentLogger(),
    );
    expect(s.auth).toEqual({ username: 'tandem', password: 's3cret' });
    expect(s.credentials?.rootCertificate).toEqual(read('pki/ca.crt'));
  });

  it('refuses what cannot work, naming the key', () => {
    const log = silentLogger();
    expect(() => etcdClientSettings(https, cfg(), log)).toThrow(
      /cluster\.etcd\.ca: https etcd endpoints need a CA/,
    );
    expect(() =>
      etcdClientSettings({ endpoints: https, ca: 'pki/ca.crt', cert: 'pki/n1.crt' }, cfg(), log),
    ).toThrow(/give both cert and key/);
    expect(() =>
      etcdClientSettings({ endpoints: https, user: 'tandem' }, cfg({ tls: nodeTls }), log),
    ).toThrow(/user and passwordFile go together/);
    expect(() =>
      etcdClientSettings(
        { endpoints: https, user: 'tandem', passwordFile: 'pw-open' },
        cfg({ tls: nodeTls }),
        log,
      ),
    ).toThrow(/passwordFile: .*pw-open is readable by others \(mode 644\): chmod 600 it/);
    expect(() =>
      etcdClientSettings(
        { endpoints: https, user: 'tandem', passwordFile: 'missing' },
        cfg({ tls: nodeTls }),
        log,
      ),
    ).toThrow(/passwordFile: cannot read .*missing: ENOENT/);
    expect(() =>
      etcdClientSettings({ endpoints: https, ca: 'pki/nope.crt' }, cfg({ tls: nodeTls }), log),
    ).toThrow(/cluster\.etcd\.ca: cannot read .*nope\.crt: ENOENT/);
  });
});
