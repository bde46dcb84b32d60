// Node configuration: CHAP secrets and ACLs (issue #6).
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseNodeConfig } from '../../../src/admin/config-schema.js';

const T = 'iqn.2026-11.org.tandem:t';
const parse = (o: unknown) => parseNodeConfig(YAML.stringify(o), 'node.yaml');
const target = (extra: object) => ({ targets: [{ iqn: T, luns: [], ...extra }] });

describe('config: auth and acl', () => {
  it('accepts 12 to 16 byte secrets, an ACL and discoveryAuth', () => {
    const cfg = parse({
      ...target({
        auth: {
          chap: { user: 'u', secret: 'a'.repeat(12) },
          mutualChap: { user: 't', secret: 'b'.repeat(16) },
        },
        acl: ['iqn.2026-11.org.example:host1'],
      }),
      discoveryAuth: { chap: { user: 'd', secret: 'c'.repeat(14) } },
    });
    expect(cfg.targets[0]!.acl).toEqual(['iqn.2026-11.org.example:host1']);
    expect(cfg.discoveryAuth?.chap?.user).toBe('d');
  });

  it.each([11, 17])('rejects a %i-byte secret with a clear error that does not echo it', (n) => {
    const secret = 'z'.repeat(n);
    const run = () => parse(target({ auth: { chap: { user: 'u', secret } } }));
    expect(run).toThrow(/targets\.0\.auth\.chap\.secret: a CHAP secret must be 12 to 16 bytes/);
    expect(run).not.toThrow(new RegExp(secret));
  });

  it('rejects the same secret for both directions and mutualChap without chap', () => {
    const s = { user: 'u', secret: 'a'.repeat(12) };
    expect(() => parse(target({ auth: { chap: s, mutualChap: s } }))).toThrow(/different secrets/);
    expect(() => parse({ discoveryAuth: { mutualChap: s } })).toThrow(/mutualChap needs chap/);
  });

  it('rejects an ACL entry that is not an iSCSI name', () => {
    expect(() => parse(target({ acl: ['host1'] }))).toThrow(/acl/);
  });
});
