// `tandemctl certs` (dist/cmd/tandemctl.js: `npm run build` first) and the directory it keeps.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../helpers/tools.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TANDEMCTL = path.join(REPO_ROOT, 'dist/cmd/tandemctl.js');

describe('tandemctl certs', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'certs-'));
  const dir = path.join(tmp, 'pki');
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const ctl = (args: string[]) => run('node', [TANDEMCTL, 'certs', ...args], { timeoutMs: 20_000 });

  it('init writes a CA with a 0600 key and refuses to overwrite it', async () => {
    const r = await ctl(['init', '--dir', dir]);
    expect(r.code).toBe(0);
    expect(statSync(path.join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    const before = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
    const again = await ctl(['init', '--dir', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/refusing to overwrite/);
    expect(readFileSync(path.join(dir, 'ca.crt'), 'utf8')).toBe(before);
  });

  it('issue node: signed by the CA, CN/OU = name/node, SANs, key 0600, never twice', async () => {
    const r = await ctl(['issue', 'node', 'node-a', '--dir', dir, '--ip', '10.0.0.5', '--dns', 'a.example']);
    expect(r.code).toBe(0);
    const ca = new X509Certificate(readFileSync(path.join(dir, 'ca.crt')));
    const c = new X509Certificate(readFileSync(path.join(dir, 'node-a.crt')));
    expect(c.verify(ca.publicKey)).toBe(true);
    expect(c.subject).toContain('CN=node-a');
    expect(c.subject).toContain('OU=node');
    expect(c.subjectAltName).toContain('IP Address:10.0.0.5');
    expect(c.subjectAltName).toContain('DNS:a.example');
    expect(statSync(path.join(dir, 'node-a.key')).mode & 0o777).toBe(0o600);
    expect((await ctl(['issue', 'node', 'node-a', '--dir', dir])).code).toBe(2);
  });

  it('issue client: OU = the role; an unknown role is a usage error', async () => {
    expect((await ctl(['issue', 'client', 'ops', '--role', 'read-only', '--dir', dir])).code).toBe(0);
    const c = new X509Certificate(readFileSync(path.join(dir, 'ops.crt')));
    expect(c.subject).toContain('OU=read-only');
    const bad = await ctl(['issue', 'client', 'x', '--role', 'root', '--dir', dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--role root/);
  });

  it('issue without a CA says to run init', async () => {
    const r = await ctl(['issue', 'node', 'b', '--dir', path.join(tmp, 'none')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/certs init/);
  });
});
