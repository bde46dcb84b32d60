// A power-loss fault for tests: test/helpers/powerloss-fs.c (FUSE, libfuse3) mounted over a temp
// dir keeps written data in memory until it is fsync'ed; cut() drops what was not, like a disk's
// volatile cache at a power cut. A node whose data directory is inside the mount loses exactly
// what it never flushed. Built with cc on first use (Debian: libfuse3-dev, pkg-config, fuse3).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'powerloss-fs.c');

/** Why power-loss tests cannot run here, or undefined when they can. */
export function powerLossUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (FUSE mounts)';
  if (!fs.existsSync('/dev/fuse')) return 'no /dev/fuse';
  try {
    execFileSync('pkg-config', ['--exists', 'fuse3']);
  } catch {
    return 'libfuse3-dev (pkg-config fuse3) is not installed';
  }
  return undefined;
}

/** Compiles powerloss-fs once per source version; returns the binary's path. */
export function buildPowerLossFs(): string {
  const src = fs.readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 12);
  const bin = path.join(os.tmpdir(), `tandem-powerloss-fs-${hash}`);
  if (fs.existsSync(bin)) return bin;
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);
  const tmp = `${bin}.${process.pid}`;
  execFileSync('cc', ['-O2', '-Wall', '-o', tmp, SOURCE, ...flags], { stdio: 'pipe' });
  fs.renameSync(tmp, bin);
  return bin;
}

export interface PowerLossStats {
  dirtyPages: number;
  fsyncs: number;
  cuts: number;
  droppedPages: number;
}

export interface PowerLossMount {
  /** Where files live (put a node's data directory here). */
  readonly dir: string;
  /** The power cut: every unflushed page is lost. `random`: each is lost with probability pct. */
  cut(random?: { seed: number; pct: number }): void;
  stats(): PowerLossStats;
  /** Unmounts and mounts the same platter again (after a cut: the reboot); no file may be open. */
  remount(): Promise<void>;
  unmount(): Promise<void>;
}

function mounted(dir: string): boolean {
  return fs
    .readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === dir);
}

// The FUSE daemons die with the test process (a mount left behind would hang whoever stats it).
const daemons = new Map<ChildProcess, string>();
process.on('exit', () => {
  for (const [child, dir] of daemons) {
    try {
      execFileSync('fusermount3', ['-u', '-z', dir], { stdio: 'ignore' });
    } catch {
      // gone
    }
    child.kill('SIGKILL');
  }
});

async function spawnFs(bin: string, platter: string, dir: string): Promise<ChildProcess> {
  const child: ChildProcess = spawn(bin, [platter, dir, '-f'], { stdio: ['ignore', 'ignore', 'pipe'] });
  daemons.set(child, dir);
  child.once('exit', () => daemons.delete(child));
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const deadline = Date.now() + 10_000;
  while (!mounted(dir)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`powerloss-fs did not mount ${dir}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

async function stopFs(child: ChildProcess, dir: string): Promise<void> {
  try {
    execFileSync('fusermount3', ['-u', '-z', dir], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Mounts a fresh powerloss-fs (platter and mount point in new temp dirs). */
export async function mountPowerLoss(): Promise<PowerLossMount> {
  const bin = buildPowerLossFs();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-powerloss-'));
  const platter = path.join(root, 'platter');
  const dir = path.join(root, 'mnt');
  fs.mkdirSync(platter);
  fs.mkdirSync(dir);
  let child = await spawnFs(bin, platter, dir);
  const control = path.join(dir, '.powerfs');
  return {
    dir,
    cut(random) {
      fs.writeFileSync(control, random ? `cut-random ${random.seed} ${random.pct}` : 'cut');
    },
    stats() {
      const kv = Object.fromEntries(
        fs
          .readFileSync(control, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.split(' ') as [string, string]),
      );
      return {
        dirtyPages: Number(kv.dirty_pages),
        fsyncs: Number(kv.fsyncs),
        cuts: Number(kv.cuts),
        droppedPages: Number(kv.dropped_pages),
      };
    },
    async remount() {
      // What a reboot does: the file system is mounted again from what is on the platter (a
      // new process: whatever the old one still held in memory is gone, as at a cut).
      await stopFs(child, dir);
      child = await spawnFs(bin, platter, dir);
    },
    async unmount() {
      await stopFs(child, dir);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
