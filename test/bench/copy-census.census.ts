// The copy census (issue #11 check 3: "the write path's copies counted"); run it with
// `node test/bench/copy-census.mjs [--tree DIR]`, which runs this file under vitest (for the
// TypeScript test initiator) with test/bench/vitest.config.ts.
//
// It starts DIR's tandemd (default: this checkout; `npm run build` there first) in embedded mode
// under test/bench/copy-census-preload.mjs, which counts every JavaScript copy of written data in
// that process, and sends WRITE(10)s of 4 KiB and 64 KiB to LUN 0 over iSCSI: as immediate data
// and through R2T/Data-Out (and 512 KiB: both), one at a time (QD 1) and 32 at once (QD 32: PDUs then share and
// straddle socket reads). For each case it prints bytes copied per written byte, by call site.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { DEMO_TARGET, REPO_ROOT, TANDEMD_NODE_FLAGS } from '../helpers/daemon.js';
import { IscsiInitiator, write10 } from '../helpers/initiator/index.js';
import { killOnExit } from '../helpers/reaper.js';

const MAGIC = 'TNDMCPY!';
const CHECK_CONDITION = 0x02;
const BLOCK = 512;
const TREE = path.resolve(process.env.CENSUS_TREE || REPO_ROOT);
const WRITES_QD1 = Number(process.env.CENSUS_WRITES ?? 64);
/** A 2-node replicated cluster (deploy/local/cluster.mjs of the tree) instead of one embedded node. */
const CLUSTER = process.env.CENSUS_CLUSTER === '1';

interface Site {
  site: string;
  via: string;
  kind: string;
  calls: number;
  bytes: number;
}

interface Case {
  name: string;
  size: number;
  /** Login keys offered (overriding the test initiator's defaults). */
  params: Record<string, string>;
  /** What the first WRITE actually looked like on the wire (checked, so a case means what it says). */
  expect: { immediate: boolean; r2ts: number };
}

const IMMEDIATE = { ImmediateData: 'Yes', InitialR2T: 'No' };
const R2T = { ImmediateData: 'No', InitialR2T: 'Yes' };
const CASES: Case[] = [
  { name: '4 KiB immediate data', size: 4096, params: IMMEDIATE, expect: { immediate: true, r2ts: 0 } },
  { name: '64 KiB immediate data', size: 65536, params: IMMEDIATE, expect: { immediate: true, r2ts: 0 } },
  { name: '4 KiB R2T + 1 Data-Out', size: 4096, params: R2T, expect: { immediate: false, r2ts: 1 } },
  { name: '64 KiB R2T + 1 Data-Out', size: 65536, params: R2T, expect: { immediate: false, r2ts: 1 } },
  {
    name: '64 KiB 4 R2Ts x 16 KiB',
    size: 65536,
    params: { ...R2T, MaxBurstLength: '16384' },
    expect: { immediate: false, r2ts: 4 },
  },
  // Larger than FirstBurstLength (256 KiB): the first 256 KiB as immediate data, the rest solicited.
  { name: '512 KiB immediate + R2T', size: 524288, params: IMMEDIATE, expect: { immediate: true, r2ts: 1 } },
];

/** Where the census writes, and the control socket of each counted process (node name: path). */
interface Target {
  host: string;
  port: number;
  iqn: string;
  controls: Record<string, string>;
}

const live = new Set<ChildProcess>();
const dirs: string[] = [];
let clusterDir: string | undefined;
afterAll(async () => {
  for (const c of live) c.kill('SIGTERM');
  await Promise.all([...live].map((c) => new Promise((r) => c.once('exit', r))));
  if (clusterDir) clusterScript(['down', '--dir', clusterDir]);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function preloadUrl(): string {
  return pathToFileURL(path.join(REPO_ROOT, 'test/bench/copy-census-preload.mjs')).href;
}

function clusterScript(args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(process.execPath, [path.join(TREE, 'deploy/local/cluster.mjs'), ...args], {
    cwd: TREE,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Node a (primary) and b of a 2-node replicated cluster of the tree, plaintext (the tree at
 * 454dde4 has no TLS; main's `--insecure`), every tandemd under the preload (NODE_OPTIONS).
 */
async function startCluster(): Promise<Target> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tandem-census-cluster-'));
  dirs.push(dir);
  const insecure = readFileSync(path.join(TREE, 'deploy/local/cluster.mjs'), 'utf8').includes('--insecure')
    ? ['--insecure']
    : [];
  const env = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --enable-source-maps --import ${preloadUrl()}`,
    CENSUS_SOCKET: path.join(dir, 'census.%p.sock'),
    CENSUS_MAGIC: MAGIC,
  };
  clusterDir = dir;
  clusterScript(
    ['up', '--nodes', '2', '--dir', dir, '--kind', 'replicated', '--size', '1G', ...insecure],
    env,
  );
  const c = JSON.parse(readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as {
    nodes: { name: string; pid: number; url: string }[];
  };
  const a = c.nodes.find((n) => n.name === 'a')!;
  const b = c.nodes.find((n) => n.name === 'b')!;
  const endpoint = clusterScript(['endpoint', '--dir', dir, 'a']).trim();
  const deadline = Date.now() + 120_000;
  for (;;) {
    let why = '';
    try {
      const status = execFileSync(
        process.execPath,
        [path.join(TREE, 'dist/cmd/tandemctl.js'), '--endpoint', endpoint, 'status', '--json'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const v = (JSON.parse(status) as { volumes?: { primary?: string; inSync?: string[] }[] }).volumes?.[0];
      if (v?.primary === 'a' && v.inSync?.includes('a') && v.inSync.includes('b')) break;
      why = JSON.stringify(v);
    } catch (err) {
      why = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`vol0 not in sync on a and b after 120 s: ${why}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  // iscsi://HOST:PORT/IQN/0
  const m = /^iscsi:\/\/(.+):(\d+)\/([^/]+)(?:\/\d+)?$/.exec(a.url);
  if (!m) throw new Error(`node a's URL ${a.url}`);
  return {
    host: m[1]!,
    port: Number(m[2]),
    iqn: m[3]!,
    controls: { a: path.join(dir, `census.${a.pid}.sock`), b: path.join(dir, `census.${b.pid}.sock`) },
  };
}

async function startTarget(): Promise<Target> {
  const tandemd = path.join(TREE, 'dist/cmd/tandemd.js');
  if (!existsSync(tandemd)) throw new Error(`${tandemd} not found: run npm run build in ${TREE}`);
  const dir = await mkdtemp(path.join(tmpdir(), 'tandem-census-'));
  dirs.push(dir);
  const control = path.join(dir, 'census.sock');
  const preload = preloadUrl();
  killOnExit(live);
  const child = spawn(
    process.execPath,
    [
      ...TANDEMD_NODE_FLAGS,
      '--enable-source-maps',
      '--import',
      preload,
      tandemd,
      '--data-dir',
      path.join(dir, 'data'),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--log-level',
      'info',
    ],
    { cwd: TREE, env: { ...process.env, CENSUS_SOCKET: control, CENSUS_MAGIC: MAGIC }, stdio: 'pipe' },
  );
  live.add(child);
  child.once('exit', () => live.delete(child));
  let out = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  const portal = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tandemd not ready after 30 s: ${out}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`tandemd exited (${code}): ${out}`)));
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      partial += c;
      for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        const m = /"event":"ready".*?"portals":\["([^"]+)"/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      }
    });
  });
  const i = portal.lastIndexOf(':');
  return {
    host: portal.slice(0, i),
    port: Number(portal.slice(i + 1)),
    iqn: DEMO_TARGET,
    controls: { tandemd: control },
  };
}

function ask(control: string, cmd: 'reset' | 'snap'): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(control);
    let text = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      text += d;
      if (text.endsWith('\n')) {
        c.end();
        resolve(text.trim());
      }
    });
    c.on('error', reject);
    c.write(`${cmd}\n`);
  });
}

function payload(size: number): Buffer {
  const b = Buffer.alloc(size);
  b.fill(MAGIC, 'latin1');
  return b;
}

interface Result {
  name: string;
  qd: number;
  writes: number;
  writtenBytes: number;
  /** Per counted process (tandemd, or node a and b). */
  sites: Record<string, Site[]>;
}

async function runCase(t: Target, c: Case, qd: number, lba0: number): Promise<Result> {
  const init = await IscsiInitiator.connect({
    host: t.host,
    port: t.port,
    initiatorName: 'iqn.2026-12.org.tandem:census',
    sessionType: 'Normal',
    targetName: t.iqn,
    timeoutMs: 20_000,
    params: { ...c.params, MaxOutstandingR2T: '1' },
  });
  try {
    const data = payload(c.size);
    const blocks = c.size / BLOCK;
    // One write outside the count first: the census counts the steady state, not the first use
    // of a pool. A new nexus first gets its unit attention (POWER ON, SAM-5 5.14): retried.
    let first = await init.scsi(0, write10(lba0, blocks), { dataOut: data });
    for (let i = 0; i < 3 && first.status === CHECK_CONDITION; i++) {
      first = await init.scsi(0, write10(lba0, blocks), { dataOut: data });
    }
    expect(first.status).toBe(0);
    expect(first.r2ts).toBe(c.expect.r2ts);
    expect(init.params.immediateData).toBe(c.expect.immediate);
    const writes = qd === 1 ? WRITES_QD1 : WRITES_QD1 * 4;
    for (const sock of Object.values(t.controls)) expect(await ask(sock, 'reset')).toBe('ok');
    let next = 0;
    const worker = async () => {
      while (next < writes) {
        const k = next++;
        const r = await init.scsi(0, write10(lba0 + (k + 1) * blocks, blocks), { dataOut: data });
        expect(r.status).toBe(0);
      }
    };
    await Promise.all(Array.from({ length: qd }, worker));
    const sites: Record<string, Site[]> = {};
    for (const [node, sock] of Object.entries(t.controls)) {
      sites[node] = (JSON.parse(await ask(sock, 'snap')) as { sites: Site[] }).sites;
    }
    return { name: c.name, qd, writes, writtenBytes: writes * c.size, sites };
  } finally {
    await init.logout().catch(() => init.close());
  }
}

function table(results: Result[]): string {
  const lines: string[] = [];
  const fmt = (x: number) => x.toFixed(2);
  const procs = Object.keys(results[0]?.sites ?? {});
  const sum = (sites: Site[], own: boolean) =>
    sites.filter((s) => (s.via === '') === own).reduce((a, s) => a + s.bytes, 0);
  lines.push(`copy census of ${TREE}${CLUSTER ? ' (2-node replicated cluster, primary a, replica b)' : ''}:`);
  lines.push('JavaScript copies of written data per written byte, in the own code and in libraries/Node');
  lines.push('');
  const head = procs.map((p) => `${`${p} own`.padStart(8)}  ${`${p} libs`.padStart(8)}`).join('  ');
  lines.push(`${'case'.padEnd(26)} ${'QD'.padStart(3)}  ${head}`);
  for (const r of results) {
    const cols = procs
      .map((p) => {
        const sites = r.sites[p] ?? [];
        const own = fmt(sum(sites, true) / r.writtenBytes).padStart(8);
        return `${own}  ${fmt(sum(sites, false) / r.writtenBytes).padStart(8)}`;
      })
      .join('  ');
    lines.push(`${r.name.padEnd(26)} ${String(r.qd).padStart(3)}  ${cols}`);
  }
  lines.push('');
  lines.push(
    'by call site (copies per written byte; calls per write; "<-" the own code that called a library):',
  );
  for (const r of results) {
    for (const p of procs) {
      lines.push(`  ${r.name}, QD ${r.qd}, ${p}:`);
      const sites = r.sites[p] ?? [];
      if (sites.length === 0) lines.push('    (none)');
      for (const s of [...sites].sort((a, b) => b.bytes - a.bytes)) {
        const rate = `${fmt(s.bytes / r.writtenBytes).padStart(5)}  ${fmt(s.calls / r.writes).padStart(5)}/write`;
        lines.push(`    ${rate}  ${s.kind}  ${s.site}${s.via ? `  <- ${s.via}` : ''}`);
      }
    }
  }
  return lines.join('\n');
}

it('counts the copies of written data on the WRITE path', async () => {
  const t = CLUSTER ? await startCluster() : await startTarget();
  const results: Result[] = [];
  let lba = 0;
  for (const c of CASES) {
    for (const qd of [1, 32]) {
      results.push(await runCase(t, c, qd, lba));
      lba += (WRITES_QD1 * 4 + 2) * (c.size / BLOCK);
    }
  }
  const text = table(results);
  console.log(text);
  if (process.env.CENSUS_OUT) {
    await writeFile(process.env.CENSUS_OUT, JSON.stringify({ tree: TREE, results }, null, 2));
  }
});
