// Issue #12 attack 3: a backing path from the cluster configuration resolves inside the node's
// data directory or is listed in the node file's allowedDevices; nothing else is opened.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkBackingPath, resolveReal } from '../../../src/backstore/backing-path.js';

let root: string;
let dataDir: string;
beforeEach(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-backing-')));
  dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const check = (p: string, allowedDevices: string[] = []) =>
  checkBackingPath(p, { dataDir, allowedDevices }, 'volumes/vol0 path');

describe('checkBackingPath', () => {
  it('admits relative and absolute paths inside the data directory, existing or not', () => {
    expect(check('vol0.img')).toBe(path.join(dataDir, 'vol0.img'));
    expect(check('sub/dir/vol0.img')).toBe(path.join(dataDir, 'sub/dir/vol0.img'));
    expect(check(path.join(dataDir, 'a.img'))).toBe(path.join(dataDir, 'a.img'));
    expect(check('x/../vol0.img')).toBe(path.join(dataDir, 'vol0.img'));
  });

  it.each([
    ['../../x', () => path.resolve(dataDir, '../../x')],
    ['../data-other/x.img', () => path.join(root, 'data-other/x.img')],
    ['/etc/passwd', () => '/etc/passwd'],
    ['/dev/sda', () => '/dev/sda'],
  ])('refuses %s, naming key, path and why', (p, resolved) => {
    expect(() => check(p)).toThrow(
      expect.objectContaining({
        code: 'TANDEM_ERR_BACKSTORE_OPEN',
        message: `volumes/vol0 path ${JSON.stringify(p)} refused: ${resolved()} is outside the data directory ${dataDir} and not listed in allowedDevices of the node file`,
      }),
    );
  });

  it('refuses the data directory itself', () => {
    expect(() => check('.')).toThrow(/refused/);
  });

  it('refuses a symbolic link inside the data directory that points out (file or directory)', () => {
    const outside = path.join(root, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'canary.txt'), 'secret');
    fs.symlinkSync(path.join(outside, 'canary.txt'), path.join(dataDir, 'lun1.img'));
    fs.symlinkSync(outside, path.join(dataDir, 'dir'));
    expect(() => check('lun1.img')).toThrow(/which resolves to .*outside\/canary\.txt, is outside/);
    // Through a linked directory, to a file that does not exist yet: it would be created outside.
    expect(() => check('dir/new.img')).toThrow(/outside\/new\.img, is outside/);
    expect(fs.existsSync(path.join(outside, 'new.img'))).toBe(false);
    // A link that stays inside is fine.
    fs.writeFileSync(path.join(dataDir, 'real.img'), '');
    fs.symlinkSync(path.join(dataDir, 'real.img'), path.join(dataDir, 'alias.img'));
    expect(check('alias.img')).toBe(path.join(dataDir, 'real.img'));
  });

  it('refuses a dangling link that points out (the file would be created there)', () => {
    fs.symlinkSync(path.join(root, 'outside/new.img'), path.join(dataDir, 'dangling.img'));
    fs.symlinkSync(path.join(root, 'outside-dir'), path.join(dataDir, 'dangling-dir'));
    expect(() => check('dangling.img')).toThrow(/which resolves to .*outside\/new\.img, is outside/);
    expect(() => check('dangling-dir/x.img')).toThrow(/outside-dir\/x\.img, is outside/);
    fs.symlinkSync(path.join(dataDir, 'loop-b'), path.join(dataDir, 'loop-a'));
    fs.symlinkSync(path.join(dataDir, 'loop-a'), path.join(dataDir, 'loop-b'));
    expect(() => check('loop-a')).toThrow(
      expect.objectContaining({
        code: 'TANDEM_ERR_BACKSTORE_OPEN',
        message: expect.stringMatching(/^volumes\/vol0 path "loop-a" refused: it cannot be resolved/),
      }),
    );
  });

  it('admits a path listed exactly in allowedDevices, also through a link to it', () => {
    const dev = path.join(root, 'disk0');
    fs.writeFileSync(dev, '');
    const byId = path.join(root, 'by-id-disk0');
    fs.symlinkSync(dev, byId);
    expect(check(dev, [dev])).toBe(dev);
    expect(check(byId, [byId])).toBe(dev);
    expect(check(byId, [dev])).toBe(dev);
    // Only the listed path: a neighbour is refused.
    expect(() => check(path.join(root, 'disk1'), [dev])).toThrow(/refused/);
    expect(() => check('/etc/passwd', ['/etc/passwd-'])).toThrow(/refused/);
  });

  it('admits paths below an allowedDevices entry ending in /, and nothing beside it', () => {
    const shared = path.join(root, 'shared');
    expect(check(path.join(shared, 'vol1.img'), [`${shared}/`])).toBe(path.join(shared, 'vol1.img'));
    expect(() => check(path.join(root, 'shared2/vol1.img'), [`${shared}/`])).toThrow(/refused/);
    expect(() => check(path.join(shared, '../x.img'), [`${shared}/`])).toThrow(/refused/);
  });

  it("refuses the node's own state in the data directory: TLS key, replication metadata", () => {
    const policy = {
      dataDir,
      allowedDevices: [`${dataDir}/`],
      reserved: ['replication', 'reservations', 'tls/node.key', path.join(root, 'etc/ca.pem')],
    };
    const refuse = (p: string) => () => checkBackingPath(p, policy, 'volumes/vol0 path');
    expect(refuse('tls/node.key')).toThrow(
      `volumes/vol0 path "tls/node.key" refused: ${dataDir}/tls/node.key is this node's own state (${dataDir}/tls/node.key), not a backing store`,
    );
    expect(refuse('replication/vol0.meta.json')).toThrow(/own state/);
    expect(refuse('./reservations/../reservations/x.json')).toThrow(/own state/);
    expect(refuse(path.join(root, 'etc/ca.pem'))).toThrow(/own state/);
    fs.symlinkSync(path.join(dataDir, 'tls'), path.join(dataDir, 'innocent'));
    expect(refuse('innocent/node.key')).toThrow(/own state/);
    expect(checkBackingPath('tls-vol.img', policy, 'k')).toBe(path.join(dataDir, 'tls-vol.img'));
  });

  it('ignores relative allowedDevices entries', () => {
    expect(() => check('/etc/passwd', ['etc/passwd'])).toThrow(/refused/);
  });
});

describe('resolveReal', () => {
  it('resolves links of the existing part and keeps the rest', () => {
    fs.mkdirSync(path.join(root, 'a'));
    fs.symlinkSync(path.join(root, 'a'), path.join(root, 'l'));
    expect(resolveReal(path.join(root, 'l/b/c'))).toBe(path.join(root, 'a/b/c'));
  });
});
