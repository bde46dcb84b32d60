// Issue #2, check 1: an embedded node answers real libiscsi initiators (discovery, INQUIRY,
// READ CAPACITY(16)) for iqn.2026-11.org.tandem:demo LUN 0, a 1 GiB LU of 512-byte blocks.
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TARGET, startTandem, type Tandem } from '../helpers/daemon.js';
import { explain, iscsiInq, iscsiLs, iscsiReadcapacity16, requireTools } from '../helpers/tools.js';

describe('quick start: embedded node', () => {
  let node: Tandem;

  beforeAll(async () => {
    requireTools('iscsi-ls', 'iscsi-inq', 'iscsi-readcapacity16');
    node = await startTandem();
  });

  it('iscsi-ls -s lists the demo target and LUN 0', async () => {
    const r = await iscsiLs(node.portalUrl(), { timeoutMs: 30_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toContain(`Target:${DEMO_TARGET}`);
    expect(r.stdout, explain(r)).toContain(`Portal:127.0.0.1:${node.portals[0]!.port}`);
    expect(r.stdout, explain(r)).toMatch(/Lun:0\s+Type:DIRECT_ACCESS/);
  });

  it('iscsi-inq reports a TANDEM direct-access device', async () => {
    const r = await iscsiInq(node.url(0), { timeoutMs: 30_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toMatch(/^Vendor:TANDEM\s*$/m);
    expect(r.stdout, explain(r)).toContain('Peripheral Device Type:DIRECT_ACCESS');
  });

  it('iscsi-readcapacity16 reports 1 GiB in 512-byte blocks', async () => {
    const r = await iscsiReadcapacity16(node.url(0), { timeoutMs: 30_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toMatch(/^LOGICAL BLOCK LENGTH IN BYTES:512$/m);
    expect(r.stdout, explain(r)).toMatch(/^RETURNED LOGICAL BLOCK ADDRESS:2097151$/m);
    expect(r.stdout, explain(r)).toMatch(/^Total size:1073741824$/m);
  });

  it('announced itself with a structured ready line', () => {
    const ready = node.logs().find((l) => l.event === 'ready');
    expect(ready?.portals).toEqual([`127.0.0.1:${node.portals[0]!.port}`]);
    expect(ready?.targets).toEqual([DEMO_TARGET]);
  });
});
