// Runs the built CLI (dist/cmd/tandemctl.js: `npm run build` first) against an in-process admin
// server with a fake backend.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminServer } from '../../../src/admin/admin-server.js';
import { TandemError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/logger.js';
import { explain, type RunResult, run } from '../../helpers/tools.js';
import { FakeBackend } from '../admin/admin-fake-backend.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TANDEMCTL = path.join(REPO_ROOT, 'dist/cmd/tandemctl.js');
const T = 'iqn.2026-11.org.tandem:cluster';

describe('tandemctl', () => {
  let backend: FakeBackend;
  let server: AdminServer;
  let tmp: string;

  beforeAll(async () => {
    if (!existsSync(TANDEMCTL)) throw new Error(`${TANDEMCTL} not found: run \`npm run build\` first`);
    backend = new FakeBackend();
    server = await AdminServer.listen('127.0.0.1:0', backend, silentLogger());
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tandemctl-'));
  });
  afterAll(async () => {
    await server.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const ctl = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> =>
    run('node', [TANDEMCTL, ...args], {
      timeoutMs: 20_000,
      env: { TANDEM_ENDPOINT: server.address, ...env },
    });

  const ok = async (args: string[], env?: NodeJS.ProcessEnv): Promise<string> => {
    const r = await ctl(args, env);
    expect(r.code, explain(r)).toBe(0);
    return r.stdout;
  };

  /** A failure: the exit status and exactly one line on stderr in the house format. */
  const fails = async (args: string[], code: number): Promise<string> => {
    const r = await ctl(args);
    expect(r.code, explain(r)).toBe(code);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, explain(r)).toHaveLength(1);
    expect(lines[0]).toMatch(/^tandemctl: .+: .+ — .+$/);
    return lines[0]!;
  };

  it('--help lists commands and the exit statuses; every command has --help', async () => {
    const out = await ok(['--help']);
    expect(out).toContain('Exit status:');
    expect(out).toMatch(/4 {2}the node could not be reached/);
    expect(out).toContain('127.0.0.1:7070');
    for (const c of [
      ['status'],
      ['volume', 'create'],
      ['lun', 'map'],
      ['chap', 'set'],
      ['config', 'import'],
      ['top'],
      ['verify'],
    ]) {
      expect(await ok([...c, '--help'])).toContain(`Usage: tandemctl ${c.join(' ')}`);
    }
  });

  it('status: readable tables, and --json', async () => {
    const out = await ok(['status']);
    expect(out).toContain('Nodes\nNAME');
    expect(out).toMatch(/^b +down /m);
    expect(out).toMatch(/^vol0 +4 GiB +replicated +a,b +a +a +42 +25% +iqn/m);
    expect(out).toMatch(/^VOLUME +a \(tpg 1\) +b \(tpg 2\)$/m);
    expect(out).toMatch(/^vol0 +active-optimized +unavailable$/m);
    expect(out).toContain('iqn.1993-08.org.debian:01:host1');
    expect(out).toContain('warning: node b: down');
    const j = JSON.parse(await ok(['status', '--json']));
    expect(j.volumes[0].id).toBe('vol0');
    expect(j.nodes).toHaveLength(2);
    // Global options before the command work too.
    expect(JSON.parse(await ok(['--json', 'status'])).node).toBe('a');
  });

  it('volume create / lun map / target: the backend gets the entries', async () => {
    await ok([
      'volume',
      'create',
      'vol1',
      '--size',
      '4G',
      '--kind',
      'replicated',
      '--replicas',
      'a,b',
      '--standby',
    ]);
    expect(backend.config.get('volumes/vol1')!.value).toEqual({
      id: 'vol1',
      kind: 'replicated',
      size: 4 * 2 ** 30,
      blockSize: 512,
      standby: true,
      readOnly: false,
      replicas: ['a', 'b'],
    });
    await ok(['target', 'create', T, '--alias', 'cluster']);
    await ok(['lun', 'map', T, '0', 'vol1']);
    expect(backend.config.get(`luns/${T},0`)!.value).toEqual({ target: T, lun: 0, volume: 'vol1' });
    expect(await ok(['lun', 'list'])).toMatch(new RegExp(`^${T} +0 +vol1$`, 'm'));
    expect(await ok(['volume', 'list'])).toMatch(/^vol1 +replicated +4 GiB +512 +- +standby +a,b +iqn/m);
    const line = await fails(['volume', 'delete', 'vol1'], 1);
    expect(line).toBe(
      `tandemctl: volume delete vol1: volume vol1 is mapped by ${T} LUN 0 — tandemctl lun unmap it first`,
    );
    await fails(['volume', 'create', 'vol1', '--size', '1G'], 1);
    await fails(['volume', 'create', 'vol2', '--size', '1G', '--kind', 'weird'], 2);
    await ok(['volume', 'resize', 'vol1', '--size', '8G']);
    expect((backend.config.get('volumes/vol1')!.value as { size: number }).size).toBe(8 * 2 ** 30);
  });

  it("status shows every replica's state; volume set and volume replicas add|remove change the entry", async () => {
    const out = await ok(['status']);
    expect(out).toContain('Replicas\nVOLUME');
    expect(out).toMatch(/^vol0 +a +primary +-$/m);
    expect(out).toMatch(/^vol0 +b +resyncing +25% 1 GiB\/4 GiB$/m);
    await ok(['volume', 'create', 'vol3', '--size', '1G', '--replicas', 'a,b', '--min-in-sync', '2']);
    expect(backend.config.get('volumes/vol3')!.value).toMatchObject({ replicas: ['a', 'b'], minInSync: 2 });
    await ok(['volume', 'set', 'vol3', '--min-in-sync', '1']);
    expect(backend.config.get('volumes/vol3')!.value).toMatchObject({ minInSync: 1 });
    expect(await ok(['volume', 'replicas', 'add', 'vol3', 'c'])).toContain('replicas a,b,c');
    expect(backend.config.get('volumes/vol3')!.value).toMatchObject({ replicas: ['a', 'b', 'c'] });
    await ok(['volume', 'replicas', 'remove', 'vol3', 'a']);
    expect(backend.config.get('volumes/vol3')!.value).toMatchObject({ replicas: ['b', 'c'] });
    expect(await fails(['volume', 'replicas', 'remove', 'vol3', 'a'], 1)).toContain(
      'a holds no replica of vol3',
    );
    await fails(['volume', 'set', 'vol3'], 2);
  });

  it('chap set reads the secret from the environment; target list never shows it', async () => {
    await ok(['chap', 'set', T, '--user', 'host1', '--secret-env', 'S'], { S: 'host1secret123' });
    expect(backend.config.get(`targets/${T}`)!.value).toMatchObject({
      auth: { chap: { user: 'host1', secret: 'host1secret123' } },
    });
    const list = await ok(['target', 'list']);
    expect(list).toContain('host1');
    expect(list).not.toContain('host1secret123');
    await fails(['chap', 'set', T, '--user', 'host1'], 2);
    const short = await ctl(['chap', 'set', T, '--user', 'x', '--secret-env', 'S'], { S: 'short' });
    expect(short.code, explain(short)).toBe(1);
    expect(short.stderr).toContain('12 to 16 bytes');
  });

  it('config export → import round trip (secrets hidden, then kept)', async () => {
    const file = path.join(tmp, 'cluster.yaml');
    await ok(['config', 'export', '--output', file]);
    const yaml = readFileSync(file, 'utf8');
    expect(yaml).toContain('apiVersion: tandem/v1');
    expect(yaml).not.toContain('host1secret123');
    const before = (await backend.readConfig()).entries.map(({ kind, name, value }) => ({
      kind,
      name,
      value,
    }));
    // Somebody changes things; importing the file restores them.
    await backend.deleteConfig('luns', `${T},0`);
    await backend.putConfig('volumes', 'vol9', {
      id: 'vol9',
      kind: 'shared',
      size: 4096,
      blockSize: 512,
      standby: false,
      readOnly: false,
    });
    const dry = await ok(['config', 'import', file, '--dry-run']);
    expect(dry).toContain(`+ luns/${T},0`);
    expect(dry).toContain('- volumes/vol9');
    expect(dry).toContain('nothing changed');
    expect(backend.config.has('volumes/vol9')).toBe(true);
    const out = await ok(['config', 'import', file]);
    expect(out).toContain('imported: 1 added, 0 changed, 1 removed');
    const after = (await backend.readConfig()).entries.map(({ kind, name, value }) => ({
      kind,
      name,
      value,
    }));
    const key = (e: { kind: string; name: string }) => `${e.kind}/${e.name}`;
    expect([...after].sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
      [...before].sort((a, b) => key(a).localeCompare(key(b))),
    );
    // The stdout form is the same document.
    const noRevision = (y: string) => y.replace(/revision \d+/, 'revision N');
    expect(noRevision(await ok(['config', 'export']))).toBe(noRevision(yaml));
    writeFileSync(file, 'apiVersion: tandem/v1\nvolumes:\n  v:\n    id: v\n    blockSize: 3\n');
    expect(await fails(['config', 'import', file], 1)).toMatch(/volumes\/v: blockSize/);
  });

  it('verify: progress lines when not a TTY, exit 3 when replicas differ', async () => {
    backend.verifyOutcome = { regions: 4, regionSize: 1 << 20, differing: [] };
    const good = await ctl(['verify', 'vol1']);
    expect(good.code, explain(good)).toBe(0);
    expect(good.stdout).toContain('replicas identical');
    expect(good.stderr).toContain('verify vol1: 100%');
    backend.verifyOutcome = {
      regions: 4,
      regionSize: 1 << 20,
      differing: [{ node: 'b', offset: 1 << 20, length: 1 << 20 }],
    };
    const bad = await ctl(['verify', 'vol1']);
    expect(bad.code, explain(bad)).toBe(3);
    expect(bad.stdout).toMatch(/^b +1048576 +1 MiB$/m);
  });

  it('switchover and resync', async () => {
    expect(await ok(['switchover', 'vol0', '--to', 'b'])).toBe('volume vol0: primary a → b (epoch 43)\n');
    expect(await ok(['resync'])).toMatch(/^vol0 +a +a +b +25% 1 GiB\/4 GiB$/m);
  });

  it('wait: polls status until the volume is served and in sync; gives up with the reason', async () => {
    expect(await ok(['wait', 'vol0', '--primary', 'a'])).toMatch(
      /^volume vol0: primary a \(epoch 42\), in sync a — after \d+\.\d s\n$/,
    );
    // b comes up on the third status and is in sync on the fifth.
    backend.tweakStatus = (s, call) => {
      const v = s.volumes[0]!;
      if (call >= 3) s.nodes[1]!.up = true;
      if (call >= 5) {
        v.inSync = ['a', 'b'];
        v.resyncDone = v.resyncTotal;
        v.portGroups[1]!.state = 'active-non-optimized';
      }
    };
    try {
      const j = JSON.parse(await ok(['wait', 'vol0', '--in-sync', '--json']));
      expect(j).toMatchObject({ volume: 'vol0', primary: 'a', inSync: ['a', 'b'] });
      expect(j.seconds).toBeGreaterThanOrEqual(1.5); // four half-second polls
      backend.tweakStatus = (s) => {
        s.volumes[0]!.inSync = ['a'];
      };
      const line = await fails(['wait', 'vol0', '--in-sync', '--wait', '1'], 1);
      expect(line).toMatch(/^tandemctl: wait vol0: not reached within 1 s: replica b is down — /);
      expect(await fails(['wait', 'vol0', '--primary', 'b', '--wait', '0.5'], 1)).toContain(
        'the primary is a, not b',
      );
      expect(await fails(['wait', 'nope'], 1)).toMatch(/^tandemctl: wait nope: no volume nope — /);
      expect(await fails(['wait', 'vol0', '--wait', '0'], 2)).toContain('--wait 0');
    } finally {
      backend.tweakStatus = undefined;
    }
  });

  it('top --once prints per-LU rates', async () => {
    const out = await ok(['top', '--once', '--interval', '0.2']);
    expect(out).toMatch(
      new RegExp(`^${T} +0 +\\d+ +\\d+ +\\d+ +[\\d.]+ +[\\d.]+ +[\\d.]+(us|ms) +[\\d.]+(us|ms)$`, 'm'),
    );
    const j = JSON.parse((await ok(['top', '--count', '1', '--interval', '0.2', '--json'])).trim());
    expect(j.lus[0]).toMatchObject({ target: T, lun: '0' });
  });

  it('node unreachable: exit 4, one line, fast', async () => {
    const dead = await AdminServer.listen('127.0.0.1:0', backend, silentLogger());
    const addr = dead.address;
    await dead.close();
    const t0 = performance.now();
    const r = await run('node', [TANDEMCTL, 'status', '--endpoint', addr], { timeoutMs: 20_000 });
    expect(r.code, explain(r)).toBe(4);
    expect(r.stderr).toBe(
      `tandemctl: cannot reach ${addr}: connection refused — is tandemd running? check --endpoint/TANDEM_ENDPOINT\n`,
    );
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('cluster (etcd) unavailable: exit 5; other refusals: exit 1 with the code', async () => {
    backend.failures.set(
      'clusterStatus',
      new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'etcd did not answer in 2 s', { retryable: true }),
    );
    expect(await fails(['status'], 5)).toMatch(
      /^tandemctl: status: cluster unavailable: etcd did not answer in 2 s — .*etcd/,
    );
    backend.failures.set(
      'clusterStatus',
      new TandemError('TANDEM_ERR_CLUSTER_NOT_LEADER', 'not the primary'),
    );
    expect(await fails(['status'], 1)).toContain('(TANDEM_ERR_CLUSTER_NOT_LEADER)');
    backend.failures.delete('clusterStatus');
  });

  it('usage errors: exit 2, one line', async () => {
    expect(await fails(['volume', 'create', 'v'], 2)).toContain("required option '--size <size>'");
    await fails(['nonsense'], 2);
    await fails(['lun', 'map', T, 'x', 'vol1'], 2);
    await fails(['status', '--timeout', '0'], 2);
  });
});
