// Issue #11, one runtime: an embedded node takes the same live changes as a cluster, from the
// real tandemctl (volume create, lun map, acl add, chap set, config export | import), and keeps
// them in its data directory: after a restart on the same node file the changes are still there
// (the file's targets bootstrapped the first start only). libiscsi's iscsi-inq is the initiator.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TANDEMCTL } from '../helpers/cluster.js';
import { DEMO_TARGET, startTandem, type Tandem } from '../helpers/daemon.js';
import { explain, type RunResult, requireTools, run } from '../helpers/tools.js';

const ALLOWED = 'iqn.2026-11.org.tandem.test:allowed';
const OTHER = 'iqn.2026-11.org.tandem.test:other';
const USER = 'host1';
const SECRET = 'liveSecret0001';

const config = {
  targets: [{ iqn: DEMO_TARGET, alias: 'demo', luns: [{ lun: 0, backstore: 'memory', size: '16M' }] }],
};

describe('live configuration of an embedded node', () => {
  let node: Tandem;

  beforeAll(async () => {
    requireTools('iscsi-inq');
    node = await startTandem({ config });
  });
  afterAll(async () => {
    await node?.stop();
  });

  const ctl = (args: string[]) =>
    run(process.execPath, [TANDEMCTL, '--endpoint', node.admin, ...node.adminCredentials, ...args], {
      timeoutMs: 30_000,
    });
  const ok = async (args: string[]): Promise<string> => {
    const r = await ctl(args);
    expect(r.code, explain(r)).toBe(0);
    return r.stdout;
  };
  const inq = (lun: number, o: { initiator?: string; chap?: boolean } = {}) => {
    const creds = o.chap ? `${USER}%${SECRET}@` : '';
    const url = `iscsi://${creds}127.0.0.1:${node.portals[0]!.port}/${DEMO_TARGET}/${lun}`;
    return run('iscsi-inq', ['-i', o.initiator ?? ALLOWED, url], { timeoutMs: 30_000 });
  };
  /** The reconcile is asynchronous: retry until `inq` succeeds (bounded). */
  async function inqUntilOk(lun: number, o: { initiator?: string; chap?: boolean } = {}): Promise<RunResult> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await inq(lun, o);
      if (r.code === 0 || Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  /** An export without its header line (which names the revision it was read at). */
  const body = (yaml: string) => yaml.replace(/^# Tandem cluster configuration, revision \d+\.\n/, '');
  let exported = '';
  let exportFile = '';

  it('volume create + lun map: the new LUN answers INQUIRY', async () => {
    const before = await inq(1);
    expect(before.code, `negative control: LUN 1 is not mapped yet\n${explain(before)}`).not.toBe(0);
    await ok(['volume', 'create', 'data1', '--size', '32M']);
    await ok(['lun', 'map', DEMO_TARGET, '1', 'data1']);
    const r = await inqUntilOk(1);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toMatch(/^Vendor:TANDEM\s*$/m);
    const status = JSON.parse(await ok(['--json', 'status'])) as {
      mode: string;
      volumes: { id: string; primary: string; luns: string[]; portGroups: { state: string }[] }[];
    };
    expect(status.mode).toBe('embedded');
    const data1 = status.volumes.find((v) => v.id === 'data1');
    expect(data1?.luns).toEqual([`${DEMO_TARGET}/1`]);
    // The node is the primary of what it serves, as the same status code reads it in a cluster.
    expect(data1?.primary).toBe(node.logs().find((l) => l.event === 'ready')?.node);
    expect(data1?.portGroups.map((g) => g.state)).toEqual(['active-optimized']);
  });

  it('acl add: an initiator outside the ACL is refused at login, one inside logs in', async () => {
    await ok(['acl', 'add', DEMO_TARGET, ALLOWED]);
    const allowed = await inqUntilOk(0);
    expect(allowed.code, explain(allowed)).toBe(0);
    const other = await inq(0, { initiator: OTHER });
    expect(other.code, explain(other)).not.toBe(0);
    expect(other.stderr, explain(other)).toMatch(/Authorization failure/);
  });

  it('chap set: a login without CHAP is refused, with CHAP it is accepted', async () => {
    const secretFile = path.join(node.dataDir, 'chap-secret');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    await ok(['chap', 'set', DEMO_TARGET, '--user', USER, '--secret-file', secretFile]);
    const withChap = await inqUntilOk(0, { chap: true });
    expect(withChap.code, explain(withChap)).toBe(0);
    const without = await inq(0);
    expect(without.code, explain(without)).not.toBe(0);
    expect(without.stderr, explain(without)).toMatch(/Authentication failure/);
  });

  it('config export → change → config import gives back the same configuration', async () => {
    exported = await ok(['config', 'export', '--show-secrets']);
    expect(exported).toContain('data1');
    expect(exported).toContain(`secret: ${SECRET}`);
    exportFile = path.join(node.dataDir, 'export.yaml');
    writeFileSync(exportFile, exported, { mode: 0o600 });

    await ok(['volume', 'create', 'data2', '--size', '16M']);
    await ok(['lun', 'map', DEMO_TARGET, '2', 'data2']);
    expect((await inqUntilOk(2, { chap: true })).code).toBe(0);
    expect(await ok(['config', 'export', '--show-secrets'])).toContain('data2');

    await ok(['config', 'import', exportFile]);
    expect(body(await ok(['config', 'export', '--show-secrets']))).toBe(body(exported));
    const deadline = Date.now() + 15_000;
    let gone = await inq(2, { chap: true });
    while (gone.code === 0 && Date.now() < deadline) gone = await inq(2, { chap: true });
    expect(gone.code, `LUN 2 left with the import\n${explain(gone)}`).not.toBe(0);
  });

  it('after a restart on the same node file the changes are still there', async () => {
    const dataDir = node.dataDir;
    expect(await node.stop()).toBe(0);
    node = await startTandem({ config, dataDir });
    expect(body(await ok(['config', 'export', '--show-secrets']))).toBe(body(exported));
    const lun1 = await inq(1, { chap: true });
    expect(lun1.code, explain(lun1)).toBe(0);
    const other = await inq(0, { initiator: OTHER, chap: true });
    expect(other.stderr, explain(other)).toMatch(/Authorization failure/);
    const without = await inq(0);
    expect(without.stderr, explain(without)).toMatch(/Authentication failure/);
  });
});
