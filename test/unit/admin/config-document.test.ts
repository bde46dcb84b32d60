import { describe, expect, it } from 'vitest';
import {
  type DocumentEntry,
  diffConfig,
  exportDocument,
  importDocument,
  parseDocument,
  SECRET_PLACEHOLDER,
} from '../../../src/admin/config-document.js';

const T = 'iqn.2026-11.org.tandem:cluster';
const H1 = 'iqn.1993-08.org.debian:01:host1';

/** Entries as a cluster would hold them, deliberately in no particular order. */
const entries: DocumentEntry[] = [
  { kind: 'luns', name: `${T},1`, value: { volume: 'vol1', target: T, lun: 1 } },
  {
    kind: 'volumes',
    name: 'vol1',
    value: {
      id: 'vol1',
      kind: 'replicated',
      size: 4294967296,
      blockSize: 4096,
      standby: true,
      readOnly: false,
      replicas: ['a', 'b'],
    },
  },
  {
    kind: 'targets',
    name: T,
    value: {
      alias: 'cluster',
      iqn: T,
      acl: [H1],
      aclLuns: { [H1]: [0, 1] },
      auth: {
        chap: { user: 'host1', secret: 'host1secret123' },
        mutualChap: { user: 'tandem', secret: 'tandemsecret12' },
      },
    },
  },
  {
    kind: 'volumes',
    name: 'vol0',
    value: {
      id: 'vol0',
      kind: 'shared',
      size: 1073741824,
      blockSize: 512,
      path: 'shared/vol0.img',
      standby: false,
      readOnly: false,
    },
  },
  { kind: 'luns', name: `${T},0`, value: { target: T, lun: 0, volume: 'vol0' } },
  { kind: 'portals', name: 'a', value: { node: 'a', portals: ['127.0.0.1:3260', '[::1]:3260'] } },
  { kind: 'chap', name: 'discovery', value: { user: 'disc', secret: 'discsecret1234', note: 'yes' } },
  { kind: 'acls', name: 'x', value: { anything: [1, '2', null, true] } },
];

const sorted = (es: readonly DocumentEntry[]) =>
  [...es].sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));

describe('config document', () => {
  it('round-trips every entry exactly with --show-secrets', () => {
    const yaml = exportDocument(entries, { showSecrets: true });
    expect(sorted(parseDocument(yaml))).toEqual(sorted(entries));
    expect(sorted(importDocument(yaml, []))).toEqual(sorted(entries));
  });

  it('is stable: same entries in any order give the same bytes; names sorted, identity keys first', () => {
    const a = exportDocument(entries, { showSecrets: true });
    const b = exportDocument([...entries].reverse(), { showSecrets: true });
    expect(b).toBe(a);
    expect(a.startsWith('apiVersion: tandem/v1\n')).toBe(true);
    // Kinds in CONFIG_KINDS order, names sorted, identity keys first.
    const order = ['targets:', 'volumes:', 'luns:', 'portals:', 'acls:', 'chap:'].map((k) =>
      a.indexOf(`\n${k}`),
    );
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(a.indexOf('  vol0:')).toBeLessThan(a.indexOf('  vol1:'));
    expect(a).toMatch(
      / {2}vol0:\n {4}id: vol0\n {4}kind: shared\n {4}size: 1073741824\n {4}blockSize: 512\n/,
    );
    // Exporting what was imported gives the same document again.
    expect(exportDocument(parseDocument(a), { showSecrets: true })).toBe(a);
  });

  it('hides secrets by default, and importing the placeholder keeps the stored secret', () => {
    const yaml = exportDocument(entries);
    expect(yaml).not.toContain('host1secret123');
    expect(yaml).not.toContain('tandemsecret12');
    expect(yaml).not.toContain('discsecret1234');
    expect(yaml.split(SECRET_PLACEHOLDER).length - 1).toBe(3);
    // Users are not secret.
    expect(yaml).toContain('user: host1');
    const back = importDocument(yaml, entries);
    expect(sorted(back)).toEqual(sorted(entries));
  });

  it('refuses a placeholder when the cluster stores no secret for it, naming where', () => {
    const yaml = exportDocument(entries);
    const withoutChap = entries.filter((e) => e.kind !== 'chap');
    expect(() => importDocument(yaml, withoutChap, 'backup.yaml')).toThrow(
      /backup\.yaml: chap\/discovery: secret is <hidden> but the cluster stores no secret there/,
    );
  });

  it('a new secret in the document replaces the stored one', () => {
    const exported = exportDocument(entries);
    const line = `\n    secret: ${SECRET_PLACEHOLDER}\n`; // chap/discovery (targets' are deeper)
    expect(exported).toContain(line);
    const yaml = exported.replace(line, '\n    secret: newsecret12345\n');
    const back = importDocument(yaml, entries);
    expect((back.find((e) => e.kind === 'chap')!.value as { secret: string }).secret).toBe('newsecret12345');
    expect(diffConfig(entries, back)).toEqual({
      added: [],
      changed: ['chap/discovery'],
      removed: [],
      unchanged: 7,
    });
  });

  it('validates entries with the cluster schemas, naming the entry and key', () => {
    const base = exportDocument(entries, { showSecrets: true });
    expect(() => parseDocument(base.replace('blockSize: 4096', 'blockSize: 1000'), 'f.yaml')).toThrow(
      /f\.yaml: volumes\/vol1: blockSize/,
    );
    expect(() => parseDocument(base.replace('apiVersion: tandem/v1', 'apiVersion: tandem/v0'))).toThrow(
      /apiVersion/,
    );
    expect(() => parseDocument(`${base}extra: {}\n`)).toThrow(/unknown section "extra"/);
    expect(() => parseDocument(base.replace('secret: host1secret123', 'secret: short'))).toThrow(
      /12 to 16 bytes/,
    );
    // A LUN whose name does not match its value.
    expect(() => parseDocument(base.replace(`${T},0:`, `${T},7:`))).toThrow(/name of this entry must be/);
    // A LUN naming a volume that is not in the document.
    const noVol0 = entries.filter((e) => !(e.kind === 'volumes' && e.name === 'vol0'));
    expect(() => parseDocument(exportDocument(noVol0, { showSecrets: true }))).toThrow(/no volume vol0/);
    expect(() => parseDocument('apiVersion: tandem/v1\ntargets: [1]\n')).toThrow(/expected a mapping/);
    expect(() => parseDocument('::: not yaml')).toThrow(/not valid YAML|apiVersion/);
  });

  it('an empty document is an empty configuration', () => {
    const yaml = exportDocument([]);
    expect(parseDocument(yaml)).toEqual([]);
    expect(diffConfig(entries, [])).toMatchObject({ added: [], changed: [], unchanged: 0 });
    expect(diffConfig(entries, []).removed.length).toBe(entries.length);
  });
});
