// deploy/local/cluster itself: usage errors and exit codes, the life cycle of a three-node
// cluster on fixed portals (up, status, kill, start, stop-etcd/cont-etcd, down, up again on the
// same etcd data), and a node that never gets ready (a clear error, the tail of its log, and
// nothing left running).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CLUSTER_SCRIPT, Cluster, type ClusterInfo } from '../helpers/cluster.js';
import { httpsGet } from '../helpers/etcd.js';
import { freePort } from '../helpers/ports.js';
import { explain, run } from '../helpers/tools.js';

const dirs: string[] = [];
async function newDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'tandem-cluster-'));
  dirs.push(d);
  return d;
}

const cluster = (args: string[], env?: NodeJS.ProcessEnv) =>
  run(CLUSTER_SCRIPT, args, { timeoutMs: 120_000, ...(env ? { env } : {}) });

function alive(pid: number, marker: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) [ZX]/.test(stat)) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/** A base port with `n` free ports after it. */
async function freeRange(n: number): Promise<number> {
  for (;;) {
    const base = await freePort();
    if (base + n > 65535) continue;
    const ok = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        import('node:net').then(
          (net) =>
            new Promise<boolean>((resolve) => {
              const s = net.createServer();
              s.once('error', () => resolve(false));
              s.listen({ host: '127.0.0.1', port: base + i, exclusive: true }, () =>
                s.close(() => resolve(true)),
              );
            }),
        ),
      ),
    );
    if (ok.every(Boolean)) return base;
  }
}

afterAll(async () => {
  for (const d of dirs) {
    await cluster(['down', '--dir', d, '--timeout', '5']);
    if (!process.env.TANDEM_KEEP_TMP) await rm(d, { recursive: true, force: true });
  }
});

describe('deploy/local/cluster: usage', () => {
  it('--help exits 0 and names every command', async () => {
    const r = await cluster(['--help']);
    expect(r.code, explain(r)).toBe(0);
    for (const c of ['up', 'down', 'kill', 'start', 'stop-etcd', 'cont-etcd', 'status'])
      expect(r.stdout).toContain(c);
  });

  it('bad usage exits 2 with one clear line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /no command/],
      [['up', '--dir', '/nonexistent/tandem-cluster'], /up needs --nodes N/],
      [['up', '--nodes', '0', '--dir', '/nonexistent/tandem-cluster'], /bad --nodes 0/],
      [['up', '--nodes', '2', '--dir', '/nonexistent/tandem-cluster', '--size', 'huge'], /bad --size huge/],
      [
        ['up', '--nodes', '2', '--dir', '/nonexistent/tandem-cluster', '--kind', 'mirrored'],
        /bad --kind mirrored/,
      ],
      [['up', '--nodes', '2'], /up needs --dir DIR/],
      [['up', '--nodes', '2', '--dir', '/nonexistent/tandem-cluster', '--bogus'], /Unknown option '--bogus'/],
      [['down', '--dir', '/nonexistent/tandem-cluster', '--nodes', '2'], /down takes no --nodes/],
      [['frobnicate', '--dir', '/nonexistent/tandem-cluster'], /unknown command frobnicate/],
      [['kill', '--dir', '/nonexistent/tandem-cluster'], /which node/],
    ];
    for (const [args, message] of cases) {
      const r = await cluster(args);
      expect(r.code, explain(r)).toBe(2);
      expect(r.stderr.split('\n')[0], explain(r)).toMatch(message);
    }
  });

  it('an unknown --kind is a usage error (exit 2) naming the choices', async () => {
    const dir = await newDir();
    const r = await cluster(['up', '--nodes', '2', '--dir', dir, '--kind', 'mirrored']);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toMatch(/bad --kind mirrored: expected shared or replicated/);
  });

  it('commands on a dir without a cluster exit 1', async () => {
    const dir = await newDir();
    for (const args of [
      ['status'],
      ['down'],
      ['kill', 'a'],
      ['start', 'a'],
      ['stop-etcd'],
      ['endpoint'],
      ['url', 'a'],
    ]) {
      const r = await cluster([...args, '--dir', dir]);
      expect(r.code, explain(r)).toBe(1);
      expect(r.stderr, explain(r)).toMatch(/no cluster in .*cluster\.json does not exist/);
    }
  });
});

describe('deploy/local/cluster: life cycle', () => {
  it('up on fixed portals, status, kill, start, stop-etcd, cont-etcd, down, up again', async () => {
    const dir = await newDir();
    const base = await freeRange(3);
    const up = await cluster([
      'up',
      '--nodes',
      '3',
      '--dir',
      dir,
      '--portal-base',
      String(base),
      '--ttl',
      '3',
    ]);
    expect(up.code, explain(up)).toBe(0);
    const c = new Cluster(dir);
    const info: ClusterInfo = c.info;
    expect(info.target).toBe('iqn.2026-11.org.tandem:cluster');
    expect(info.nodes.map((n) => [n.name, n.portal])).toEqual([
      ['a', `127.0.0.1:${base}`],
      ['b', `127.0.0.1:${base + 1}`],
      ['c', `127.0.0.1:${base + 2}`],
    ]);
    expect(info.luns).toEqual([{ lun: 0, volume: 'vol0', kind: 'shared', size: '1G' }]);
    for (const n of info.nodes) {
      expect(n.grpc, `${n.name}'s gRPC address from its ready line`).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(n.url).toBe(`iscsi://127.0.0.1:${n.portal.split(':')[1]}/${info.target}/0`);
      expect(alive(n.pid, n.config), `${n.name} runs`).toBe(true);
      expect(readFileSync(n.config, 'utf8')).toContain('leaseTtlSeconds: 3');
    }
    // etcd runs with client TLS, and every node reached it (they are ready): with its certificate.
    expect(info.etcd[0]).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const creds = c.etcdOptions().credentials!;
    const health = JSON.parse((await httpsGet(`${info.etcd[0]}/health`, creds)).body) as { health: string };
    expect(health.health).toBe('true');
    const plain = await fetch(`${info.etcd[0]!.replace('https:', 'http:')}/health`).then(
      (r) => r.text(),
      (err: unknown) => String(err),
    );
    expect(plain, 'plaintext HTTP to etcd').not.toContain('"health":"true"');
    await expect(
      httpsGet(`${info.etcd[0]}/health`, { rootCertificate: creds.rootCertificate }, 3000),
      'TLS without a client certificate',
    ).rejects.toThrow();
    for (const n of info.nodes) {
      const etcdCfg = (YAML.parse(readFileSync(n.config, 'utf8')) as { cluster: { etcd: unknown } }).cluster
        .etcd;
      expect(etcdCfg, `${n.name}'s cluster.etcd`).toEqual({
        endpoints: info.etcd,
        ca: '../tls/etcd/ca.crt',
        cert: `../tls/etcd/${n.name}.crt`,
        key: `../tls/etcd/${n.name}.key`,
      });
    }
    // etcd has a CA of its own: the admin client certificate (cluster CA) does not open it.
    await expect(
      httpsGet(
        `${info.etcd[0]}/health`,
        {
          rootCertificate: creds.rootCertificate,
          certChain: readFileSync(path.join(dir, 'tls', 'admin.crt')),
          privateKey: readFileSync(path.join(dir, 'tls', 'admin.key')),
        },
        3000,
      ),
      'the admin certificate at etcd',
    ).rejects.toThrow();
    const env = await cluster(['env', '--dir', dir]);
    expect(env.stdout).toContain(`export ETCDCTL_ENDPOINTS='${info.etcd[0]}'`);
    expect(env.stdout).toContain(`export ETCDCTL_CACERT='${path.join(dir, 'tls', 'etcd', 'ca.crt')}'`);

    const again = await cluster(['up', '--nodes', '3', '--dir', dir]);
    expect(again.code, explain(again)).toBe(1);
    expect(again.stderr).toMatch(/a cluster is already running/);

    let st = await cluster(['status', '--dir', dir]);
    expect(st.code, explain(st)).toBe(0);

    const oldB = info.nodes[1]!;
    const k = await cluster(['kill', 'b', '--dir', dir]);
    expect(k.code, explain(k)).toBe(0);
    expect(alive(oldB.pid, oldB.config)).toBe(false);
    st = await cluster(['status', '--json', '--dir', dir]);
    expect(st.code, 'status: not everything runs').toBe(3);
    expect(JSON.parse(st.stdout).alive).toEqual({
      etcd: 'running',
      nodes: { a: 'running', b: 'dead', c: 'running' },
    });
    expect((await cluster(['kill', 'b', '--dir', dir])).code, 'kill of a dead node').toBe(1);

    const s = await cluster(['start', 'b', '--dir', dir]);
    expect(s.code, explain(s)).toBe(0);
    const newB = Cluster.read(dir).nodes[1]!;
    expect(newB.portal, 'restarted on the same portal').toBe(oldB.portal);
    expect(newB.pid).not.toBe(oldB.pid);
    expect(alive(newB.pid, newB.config)).toBe(true);
    expect((await cluster(['start', 'b', '--dir', dir])).code, 'start of a running node').toBe(1);

    expect((await cluster(['stop-etcd', '--dir', dir])).code).toBe(0);
    st = await cluster(['status', '--json', '--dir', dir]);
    expect(JSON.parse(st.stdout).alive.etcd).toBe('stopped');
    expect((await cluster(['cont-etcd', '--dir', dir])).code).toBe(0);
    st = await cluster(['status', '--json', '--dir', dir]);
    expect(JSON.parse(st.stdout).alive.etcd).toBe('running');

    const down = await cluster(['down', '--dir', dir]);
    expect(down.code, explain(down)).toBe(0);
    const after = Cluster.read(dir);
    expect(alive(after.etcdPid, after.etcdDataDir)).toBe(false);
    for (const n of after.nodes) expect(alive(n.pid, n.config), n.name).toBe(false);

    // Up again on the same dir: etcd's data is reused; portals stay where they were.
    const up2 = await cluster(['up', '--nodes', '3', '--dir', dir]);
    expect(up2.code, explain(up2)).toBe(0);
    expect(up2.stdout).toMatch(/etcd data reused/);
    expect(Cluster.read(dir).nodes.map((n) => n.portal)).toEqual(info.nodes.map((n) => n.portal));
    expect((await cluster(['down', '--dir', dir])).code).toBe(0);
  }, 90_000);

  it('a node that never gets ready: exit 1, the tail of its log, nothing left running', async () => {
    const dir = await newDir();
    const fake = path.join(dir, 'silent-tandemd.mjs');
    await writeFile(
      fake,
      'console.log(\'{"level":30,"msg":"starting, never ready"}\');\nsetInterval(() => {}, 1000);\n',
    );
    const r = await cluster(['up', '--nodes', '2', '--dir', dir, '--timeout', '2'], { TANDEM_TANDEMD: fake });
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(/node a not ready after 2 s; last lines of .*a\/tandemd\.log:/);
    expect(r.stderr).toContain('starting, never ready');
    const info = Cluster.read(dir);
    expect(alive(info.etcdPid, info.etcdDataDir), 'etcd stopped again').toBe(false);
    for (const n of info.nodes) expect(alive(n.pid, n.config), n.name).toBe(false);
  });
});
