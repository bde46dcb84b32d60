// tandemctl's credential lookup (docs/security.md): --insecure, then flags over env, then
// --tls-dir / TANDEM_TLS_DIR, then ./data/tls, else plaintext; incomplete sets are usage errors.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCredentials, resolveCredentials } from '../../../../cmd/tandemctl/credentials.js';
import { CliError, EXIT } from '../../../../cmd/tandemctl/errors.js';

describe('tandemctl credentials', () => {
  let cwd: string;
  let tls: string;
  beforeAll(() => {
    cwd = mkdtempSync(path.join(tmpdir(), 'tandemctl-creds-'));
    tls = path.join(cwd, 'data', 'tls');
    mkdirSync(tls, { recursive: true });
    for (const f of ['ca.crt', 'admin.crt', 'admin.key']) writeFileSync(path.join(tls, f), f);
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('order: --insecure, flags over env, --tls-dir, ./data/tls, none', () => {
    expect(resolveCredentials({ insecure: true, ca: 'x' }, {}, cwd).plaintext).toBe(true);
    expect(resolveCredentials({}, { TANDEM_INSECURE: '1', TANDEM_CA: 'x' }, cwd).plaintext).toBe(true);
    const env = { TANDEM_CA: '/e/ca', TANDEM_CERT: '/e/c', TANDEM_KEY: '/e/k' };
    expect(resolveCredentials({ ca: '/f/ca' }, env, cwd)).toMatchObject({
      ca: '/f/ca',
      cert: '/e/c',
      key: '/e/k',
    });
    expect(resolveCredentials({}, env, cwd)).toMatchObject({ ca: '/e/ca', cert: '/e/c' });
    expect(resolveCredentials({ tlsDir: 'data/tls' }, {}, cwd)).toMatchObject({
      ca: path.join(tls, 'ca.crt'),
      cert: path.join(tls, 'admin.crt'),
      key: path.join(tls, 'admin.key'),
    });
    expect(resolveCredentials({}, {}, cwd)).toMatchObject({ plaintext: false, ca: path.join(tls, 'ca.crt') });
    expect(resolveCredentials({}, {}, tmpdir())).toMatchObject({ plaintext: true });
    // An empty variable counts as unset.
    expect(resolveCredentials({}, { TANDEM_CA: '' }, tmpdir()).plaintext).toBe(true);
  });

  it('incomplete or unreadable credentials are usage errors (exit 2)', () => {
    const usage = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(CliError);
        return (err as CliError).exitCode;
      }
      throw new Error('no error');
    };
    expect(usage(() => resolveCredentials({ cert: '/c', key: '/k' }, {}, cwd))).toBe(EXIT.usage);
    expect(usage(() => resolveCredentials({ ca: '/a', cert: '/c' }, {}, cwd))).toBe(EXIT.usage);
    expect(usage(() => resolveCredentials({ tlsDir: '/nonexistent' }, {}, cwd))).toBe(EXIT.usage);
    expect(usage(() => readCredentials(resolveCredentials({ ca: path.join(cwd, 'nope') }, {}, cwd)))).toBe(
      EXIT.usage,
    );
    expect(readCredentials(resolveCredentials({}, {}, cwd))?.ca.toString()).toBe('ca.crt');
  });
});
