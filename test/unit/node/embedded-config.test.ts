// The node file's targets and LUNs (embedded mode) as the cluster's configuration entries: each
// LUN a volume and a mapping, with the identity seed the LU always had (so VPD 83h/80h stay).
import { describe, expect, it } from 'vitest';
import { validateEntry } from '../../../src/admin/config-document.js';
import { nodeConfigSchema, volumeSchema } from '../../../src/admin/config-schema.js';
import { embeddedBootstrap } from '../../../src/node/embedded-config.js';

describe('embeddedBootstrap', () => {
  const cfg = nodeConfigSchema.parse({
    node: { name: 'n1' },
    targets: [
      {
        iqn: 'iqn.2026-11.org.tandem:demo',
        alias: 'demo',
        acl: ['iqn.2026-11.org.tandem.test:a'],
        luns: [
          { lun: 0, path: 'lun0.img', size: '1G' },
          { lun: 1, backstore: 'memory', size: '64M', volumeId: 'vol-0001' },
        ],
      },
      { iqn: 'iqn.2026-11.org.tandem:other', luns: [{ lun: 0, backstore: 'memory', size: '1M' }] },
    ],
  });
  const entries = embeddedBootstrap(cfg);

  it('targets without their LUNs; one volume and one mapping per LUN', () => {
    expect(entries.map((e) => `${e.kind}/${e.name}`)).toEqual([
      'targets/iqn.2026-11.org.tandem:demo',
      'volumes/demo-lun0',
      'luns/iqn.2026-11.org.tandem:demo,0',
      'volumes/vol-0001',
      'luns/iqn.2026-11.org.tandem:demo,1',
      'targets/iqn.2026-11.org.tandem:other',
      'volumes/other-lun0',
      'luns/iqn.2026-11.org.tandem:other,0',
    ]);
    expect(entries[0]!.value).toEqual({
      iqn: 'iqn.2026-11.org.tandem:demo',
      alias: 'demo',
      acl: ['iqn.2026-11.org.tandem.test:a'],
    });
    for (const e of entries) expect(() => validateEntry(e.kind, e.name, e.value)).not.toThrow();
  });

  it('keeps the identity seed of each LU: its volumeId, else <node>:<iqn>:<lun>', () => {
    const vol = (name: string) => volumeSchema.parse(entries.find((e) => e.name === name)!.value);
    expect(vol('demo-lun0')).toMatchObject({
      kind: 'shared',
      size: 1 << 30,
      path: 'lun0.img',
      identity: 'n1:iqn.2026-11.org.tandem:demo:0',
    });
    expect(vol('demo-lun0').backstore).toBeUndefined();
    expect(vol('vol-0001')).toMatchObject({ backstore: 'memory', size: 64 << 20, identity: 'vol-0001' });
  });
});
