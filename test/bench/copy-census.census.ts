// The copy census (issue #11 check 3: "the write path's copies counted"); run it with
// `node test/bench/copy-census.mjs [--tree DIR]`, which runs this file under vitest (for the
// TypeScript test initiator) with test/bench/vitest.config.ts.
//
// It starts DIR's tandemd (default: this checkout; `npm run build` there first) in embedded mode
// under test/bench/copy-census-preload.mjs, which counts every JavaScript copy of written data in
// that process, and sends WRITE(10)s of 4 KiB and 64 KiB to LUN 0 over iSCSI: as immediate data
// and through R2T/Data-Out (and 512 KiB: both), one at a time (QD 1) and 32 at once (QD 32: PDUs then share and
// straddle socket reads). For each case it prints bytes copied per written byte, by call site.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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

const live = new Set<ChildProcess>();
const dirs: string[] = [];
afterAll(async () => {
  for (const c of live) c.kill('SIGTERM');
  await Promise.all([...live].map((c) => new Promise((r) => c.once('exit', r))));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function startTarget(): Promise<{ host: string; port: number; control: string }> {
  const tandemd = path.join(TREE, 'dist/cmd/tandemd.js');
  if (!existsSync(tandemd)) throw new Error(`${tandemd} not found: run npm run build in ${TREE}`);
  const dir = await mkdtemp(path.join(tmpdir(), 'tandem-census-'));
  dirs.push(dir);
  const control = path.join(dir, 'census.sock');
  const preload = pathToFileURL(path.join(REPO_ROOT, 'test/bench/copy-census-preload.mjs')).href;
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
  return { host: portal.slice(0, i), port: Number(portal.slice(i + 1)), control };
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
  sites: Site[];
}

async function runCase(
  t: { host: string; port: number; control: string },
  c: Case,
  qd: number,
  lba0: number,
): Promise<Result> {
  const init = await IscsiInitiator.connect({
    host: t.host,
    port: t.port,
    initiatorName: 'iqn.2026-12.org.tandem:census',
    sessionType: 'Normal',
    targetName: DEMO_TARGET,
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
    expect(await ask(t.control, 'reset')).toBe('ok');
    let next = 0;
    const worker = async () => {
      while (next < writes) {
        const k = next++;
        const r = await init.scsi(0, write10(lba0 + (k + 1) * blocks, blocks), { dataOut: data });
        expect(r.status).toBe(0);
      }
    };
    await Promise.all(Array.from({ length: qd }, worker));
    const snap = JSON.parse(await ask(t.control, 'snap')) as { sites: Site[] };
    return { name: c.name, qd, writes, writtenBytes: writes * c.size, sites: snap.sites };
  } finally {
    await init.logout().catch(() => init.close());
  }
}

function table(results: Result[]): string {
  const lines: string[] = [];
  const fmt = (x: number) => x.toFixed(2);
  lines.push(`copy census of ${TREE}: JS copies of written data per written byte (tandemd process)`);
  lines.push('');
  lines.push(
    `${'case'.padEnd(26)} ${'QD'.padStart(3)}  ${'own code'.padStart(8)}  ${'libs+node'.padStart(9)}`,
  );
  for (const r of results) {
    const own = r.sites.filter((s) => s.via === '').reduce((a, s) => a + s.bytes, 0);
    const other = r.sites.filter((s) => s.via !== '').reduce((a, s) => a + s.bytes, 0);
    lines.push(
      `${r.name.padEnd(26)} ${String(r.qd).padStart(3)}  ${fmt(own / r.writtenBytes).padStart(8)}  ${fmt(other / r.writtenBytes).padStart(9)}`,
    );
  }
  lines.push('');
  lines.push('by call site (copies per written byte; calls per write):');
  for (const r of results) {
    lines.push(`  ${r.name}, QD ${r.qd}:`);
    if (r.sites.length === 0) lines.push('    (none)');
    for (const s of [...r.sites].sort((a, b) => b.bytes - a.bytes)) {
      lines.push(
        `    ${fmt(s.bytes / r.writtenBytes).padStart(5)}  ${fmt(s.calls / r.writes).padStart(5)}/write  ${s.kind}  ${s.site}${s.via ? `  <- ${s.via}` : ''}`,
      );
    }
  }
  return lines.join('\n');
}

it('counts the copies of written data on the WRITE path', async () => {
  const t = await startTarget();
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
