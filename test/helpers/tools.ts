// Runs third-party initiator CLIs (libiscsi-bin, qemu-utils) under a time limit. A tool that hangs
// is SIGKILLed and reported as timed out, never waited on forever.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';

export interface RunResult {
  /** Exit code; null when the process died of a signal (e.g. killed on timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
  /** The command line, for assertion messages. */
  command: string;
}

export interface RunOptions {
  /** Default 60 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface Running {
  readonly child: ChildProcess;
  /** Resolves when the process exits (or is killed on timeout). */
  readonly done: Promise<RunResult>;
  /** stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
}

/** Starts `cmd args` and returns at once; `done` resolves with the result. */
export function start(cmd: string, args: string[], opts: RunOptions = {}): Running {
  const command = [cmd, ...args].map((a) => (/[\s'"]/.test(a) ? `'${a}'` : a)).join(' ');
  const t0 = performance.now();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 60_000);
  const done = new Promise<RunResult>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, ms: Math.round(performance.now() - t0), command });
    };
    child.once('error', (err) => {
      stderr += `\nspawn ${cmd}: ${err.message}`;
      finish(127, null);
    });
    child.once('close', finish);
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

/** Runs `cmd args` to completion (or until the timeout) and returns its code and output. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return start(cmd, args, opts).done;
}

/** A one-paragraph description of a result, for assertion messages. */
export function explain(r: RunResult): string {
  const how = r.timedOut ? 'TIMED OUT' : r.signal ? `signal ${r.signal}` : `exit ${r.code}`;
  return `$ ${r.command}\n(${how}, ${r.ms} ms)\n--- stdout:\n${r.stdout.slice(-4000)}\n--- stderr:\n${r.stderr.slice(-4000)}`;
}

const PACKAGE_OF: Record<string, string> = {
  'iscsi-ls': 'libiscsi-bin',
  'iscsi-inq': 'libiscsi-bin',
  'iscsi-readcapacity16': 'libiscsi-bin',
  'iscsi-test-cu': 'libiscsi-bin',
  'iscsi-perf': 'libiscsi-bin',
  'qemu-io': 'qemu-utils (and qemu-block-extra for iscsi://)',
  'qemu-img': 'qemu-utils (and qemu-block-extra for iscsi://)',
  tgtd: 'tgt',
};

export function haveTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v "$1" >/dev/null 2>&1`, 'sh', cmd]).status === 0;
}

/** Throws a clear error naming the Debian package when a tool is missing (./.ci/run installs them). */
export function requireTools(...cmds: string[]): void {
  const missing = cmds.filter((c) => !haveTool(c));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((c) => PACKAGE_OF[c] ?? '?'))].join(', ');
    throw new Error(
      `missing ${missing.join(', ')}: install ${pkgs} (./.ci/run installs every test dependency)`,
    );
  }
}

// Thin wrappers for the initiators the integration tests use.
export const iscsiLs = (portalUrl: string, opts?: RunOptions) => run('iscsi-ls', ['-s', portalUrl], opts);
export const iscsiInq = (url: string, opts?: RunOptions) => run('iscsi-inq', [url], opts);
export const iscsiReadcapacity16 = (url: string, opts?: RunOptions) =>
  run('iscsi-readcapacity16', [url], opts);
/** qemu-io -f raw -c CMD URL (one -c per command). */
export const qemuIo = (url: string, cmds: string[], opts?: RunOptions) =>
  run('qemu-io', ['-f', 'raw', ...cmds.flatMap((c) => ['-c', c]), url], opts);
export const iscsiTestCu = (args: string[], opts?: RunOptions) => run('iscsi-test-cu', args, opts);
