// Starts real tandemd processes for integration tests. Every process started here is stopped (and
// every temp dir it created removed) in the test file's afterAll, and SIGKILLed if the test
// process exits first, so a failing test never leaves a node listening.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import YAML from 'yaml';
import { killOnExit } from './reaper.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TANDEMD = path.join(REPO_ROOT, 'dist/cmd/tandemd.js');
/** The V8 flags of tandemd's shebang line, which every launcher passes (README). */
export const TANDEMD_NODE_FLAGS = ['--initial-heap-size=128'];
export const DEMO_TARGET = 'iqn.2026-11.org.tandem:demo';

export interface StartOptions {
  /** A node configuration (the YAML file's content as an object); written to a temp dir. */
  config?: Record<string, unknown>;
  /** Data directory (--data-dir). Default: a new temp dir, removed in afterAll. */
  dataDir?: string;
  /**
   * Number of portals, each on a port the kernel picks (127.0.0.1:0; the ready line tells which).
   * Default 1, unless `config` names its own portals or `ports` is given.
   */
  portals?: number;
  /** Explicit portal ports on 127.0.0.1 (e.g. to restart a node on the port it had). */
  ports?: number[];
  env?: NodeJS.ProcessEnv;
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /** How long to wait for the ready line. Default 20 s. */
  readyTimeoutMs?: number;
}

export interface Portal {
  host: string;
  port: number;
}

/** One parsed pino log line. */
export interface LogLine {
  level: number;
  time: number;
  msg?: string;
  event?: string;
  [key: string]: unknown;
}

export interface Tandem {
  readonly pid: number;
  readonly portals: Portal[];
  /** The first target's IQN (from the ready line). */
  readonly target: string;
  readonly targets: string[];
  readonly dataDir: string;
  /** The admin API (tandemctl --endpoint), HOST:PORT, from the ready line ('' when off). */
  readonly admin: string;
  /**
   * tandemctl's credential options for this node: `--insecure` for a node file with
   * `insecure: true`, else the admin certificate an embedded node creates in DATA_DIR/tls
   * (a node file with its own `tls:` gets none: the test passes the certificate it issued).
   */
  readonly adminCredentials: string[];
  /** iscsi://HOST:PORT/TARGET/LUN through the given portal. */
  url(lun?: number, portalIndex?: number): string;
  /** iscsi://HOST:PORT (for discovery, e.g. iscsi-ls). */
  portalUrl(portalIndex?: number): string;
  /**
   * Sends `signal` (default SIGTERM) and waits for the process to exit. Resolves to the exit code
   * (null if it died of a signal). If it has not exited after `timeoutMs` (default 15 s) it is
   * SIGKILLed and the promise rejects.
   */
  stop(signal?: NodeJS.Signals, opts?: { timeoutMs?: number }): Promise<number | null>;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
  /** Resolves when the process has exited: { code, signal }. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Parsed JSON log lines so far (stdout). */
  logs(): LogLine[];
  /** Raw stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
}

const live = new Set<ChildProcess>();
const ownedDirs = new Set<string>();

/** Stops every node still running (SIGKILL after 10 s) and removes the temp dirs created here. */
export async function stopAllTandems(): Promise<void> {
  await Promise.all(
    [...live].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    }),
  );
  live.clear();
  if (!process.env.TANDEM_KEEP_TMP) {
    await Promise.all([...ownedDirs].map((d) => rm(d, { recursive: true, force: true })));
  }
  ownedDirs.clear();
}

// Registered in the root suite of every test file that imports this helper.
afterAll(stopAllTandems);

/** A temp dir removed in afterAll (unless TANDEM_KEEP_TMP is set). */
export async function tempDir(prefix = 'tandem-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  ownedDirs.add(dir);
  return dir;
}

function parsePortal(s: string): Portal {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startTandem(opts: StartOptions = {}): Promise<Tandem> {
  if (!existsSync(TANDEMD)) throw new Error(`${TANDEMD} not found: run \`npm run build\` first`);
  killOnExit(live);

  const dataDir = opts.dataDir ?? (await tempDir('tandem-data-'));
  const args = [
    ...TANDEMD_NODE_FLAGS,
    TANDEMD,
    '--data-dir',
    dataDir,
    '--log-level',
    opts.logLevel ?? 'info',
  ];
  if (opts.config) {
    const dir = await tempDir('tandem-config-');
    const file = path.join(dir, 'node.yaml');
    await writeFile(file, YAML.stringify(opts.config));
    args.push('--config', file);
  }
  const configNamesPortals = opts.config !== undefined && 'portals' in opts.config;
  const listen = opts.ports
    ? opts.ports.map((p) => `127.0.0.1:${p}`)
    : opts.portals !== undefined || !configNamesPortals
      ? Array.from({ length: opts.portals ?? 1 }, () => '127.0.0.1:0')
      : [];
  if (listen.length > 0) args.push('--listen', ...listen);
  // Tests run many nodes at once: the admin API on a free port unless the config names one.
  const configNamesAdmin = opts.config !== undefined && 'admin' in opts.config;
  if (!configNamesAdmin) args.push('--admin', '127.0.0.1:0');

  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);

  let stdout = '';
  let stderr = '';
  let partial = '';
  const lines: LogLine[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });

  let onReady: (line: LogLine) => void = () => {};
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    partial += chunk;
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      const text = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      lines.push(line);
      if (line.event === 'ready') onReady(line);
    }
  });

  const describeOutput = () =>
    `--- command: node ${args.join(' ')}\n--- stdout:\n${stdout.slice(-8000)}\n--- stderr:\n${stderr.slice(-8000)}`;

  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  const ready = await new Promise<LogLine>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tandemd did not log "ready" within ${readyTimeoutMs} ms\n${describeOutput()}`));
    }, readyTimeoutMs);
    onReady = (line) => {
      clearTimeout(timer);
      resolve(line);
    };
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`tandemd exited (code ${code}, signal ${signal}) before it was ready\n${describeOutput()}`),
      );
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot spawn tandemd: ${err.message}`));
    });
  });

  const portals = ((ready.portals as string[] | undefined) ?? []).map(parsePortal);
  const targets = (ready.targets as string[] | undefined) ?? [];
  if (portals.length === 0) throw new Error(`tandemd's ready line names no portals\n${describeOutput()}`);

  const tandem: Tandem = {
    pid: child.pid!,
    portals,
    target: targets[0] ?? DEMO_TARGET,
    targets,
    dataDir,
    admin: typeof ready.admin === 'string' ? ready.admin : '',
    adminCredentials:
      opts.config?.insecure === true
        ? ['--insecure']
        : opts.config?.tls !== undefined
          ? []
          : ['--tls-dir', path.join(dataDir, 'tls')],
    exited,
    portalUrl(portalIndex = 0) {
      const p = portals[portalIndex];
      if (!p) throw new Error(`no portal #${portalIndex} (have ${portals.length})`);
      return `iscsi://${hostForUrl(p.host)}:${p.port}`;
    },
    url(lun = 0, portalIndex = 0) {
      return `${this.portalUrl(portalIndex)}/${this.target}/${lun}`;
    },
    async stop(signal = 'SIGTERM', { timeoutMs = 15_000 } = {}) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), timeoutMs);
      });
      const r = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (r === 'timeout') {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`tandemd did not exit within ${timeoutMs} ms of ${signal}\n${describeOutput()}`);
      }
      return r.code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    logs: () => [...lines],
    output: () => ({ stdout, stderr }),
  };
  return tandem;
}
