// Issue #6, check 1: the README's walkthrough, run command by command as written. The block
// between `<!-- walkthrough:begin -->` and `<!-- walkthrough:end -->` is executed by bash with
// `set -euo pipefail` (any failing command fails the test), with DEMO pointing at a temp dir.
// Then what a newcomer would look for in the output is checked.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/daemon.js';

function walkthrough(): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const m = /<!-- walkthrough:begin -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme);
  if (!m) throw new Error('README.md has no walkthrough block');
  return m[1]!;
}

describe('README walkthrough', () => {
  let demo = '';

  afterAll(async () => {
    if (!demo) return;
    // If the script failed midway, its cluster may still run.
    if (existsSync(path.join(demo, 'cluster.json'))) {
      await new Promise((r) =>
        spawn('bash', [path.join(REPO_ROOT, 'deploy/local/cluster'), 'down', '--dir', demo], {
          stdio: 'ignore',
        }).on('exit', r),
      );
    }
    if (!process.env.TANDEM_KEEP_TMP) await rm(demo, { recursive: true, force: true });
  });

  it('works as written: failover, resync, verify, switchover, export', async () => {
    demo = await mkdtemp(path.join(tmpdir(), 'tandem-cluster-walkthrough-'));
    const script = `set -euo pipefail\nset -x\n${walkthrough()}`;
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO: demo };
    delete env.TANDEM_ENDPOINT;
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('bash', ['-c', script], { cwd: REPO_ROOT, env });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.on('exit', (c) => resolve({ code: c, out }));
    });
    const tail = out.slice(-6000);
    expect(code, `the walkthrough failed:\n${tail}`).toBe(0);
    expect(out).not.toMatch(/Pattern verification failed/);
    // Step 1: both replicas in sync.
    expect(out).toMatch(/vol0\s+1 GiB\s+replicated\s+a,b\s+a,b\s+a\s/);
    // Step 3 and 5: two verifies, both identical.
    expect(out.match(/replicas identical/g)?.length, tail).toBe(2);
    // The waits instead of sleeps: what each one reached.
    expect(out).toMatch(/volume vol0: primary a \(epoch \d+\), in sync a,b — after/);
    // data1 starts on its preferred node, a (the first by name), wherever it was created.
    expect(out).toMatch(/volume data1: primary a \(epoch \d+\), in sync a,b — after/);
    expect(out).toMatch(/volume data1: primary b \(epoch \d+\), in sync b — after/);
    expect(out).toMatch(/volume data1: primary b \(epoch \d+\), in sync (a,b|b,a) — after/);
    // Step 4: after the kill, b is primary and a is down.
    expect(out).toMatch(/a\s+down\s/);
    expect(out).toMatch(/data1\s+256 MiB\s+replicated\s+a,b\s+b\s+b\s/);
    // Step 5: a resynced and in sync again.
    expect(out).toMatch(/resync/i);
    expect(out).toMatch(/data1\s+256 MiB\s+replicated\s+a,b\s+a,b\s+b\s/);
    // Step 6: switchover to a; the exported configuration names both volumes.
    expect(out).toMatch(/volume data1: primary b → a/);
    const exported = readFileSync(path.join(demo, 'config.yaml'), 'utf8');
    expect(exported).toMatch(/apiVersion: tandem\/v1/);
    expect(exported).toMatch(/data1:/);
    expect(exported).toMatch(/vol0:/);
  }, 180_000);
});
