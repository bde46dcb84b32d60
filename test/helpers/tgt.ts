// Starts a private tgtd (Linux SCSI target framework) on loopback for checking the test initiator
// against an independent target. Every daemon started here is SIGKILLed by stop() or at exit.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const TGTD = '/usr/sbin/tgtd';
export const TGTADM = '/usr/sbin/tgtadm';

export function haveTgt(): boolean {
  return existsSync(TGTD) && existsSync(TGTADM);
}

export interface TgtLun {
  lun: number;
  sizeBytes: number;
}

export interface TgtOptions {
  iqn?: string;
  luns?: TgtLun[];
  /** Target session parameters set with `tgtadm --op update` before any login. */
  params?: Record<string, string>;
  /** CHAP accounts bound to the target; `outgoing` is the target's own (mutual CHAP) account. */
  accounts?: Array<{ user: string; password: string; outgoing?: boolean }>;
}

export interface TgtDaemon {
  readonly host: string;
  readonly port: number;
  readonly iqn: string;
  readonly controlPort: number;
  /** Runs tgtadm against this daemon (`--lld iscsi` and `-C` are added). */
  tgtadm(...args: string[]): Promise<string>;
  setParam(name: string, value: string): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startTgt(opts: TgtOptions = {}): Promise<TgtDaemon> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  const iqn = opts.iqn ?? 'iqn.2024-01.org.tandem.test:tgt';
  const dir = await mkdtemp(join(tmpdir(), 'tandem-tgt-'));
  const port = await freePort();
  // The control port (tgtd accepts at most 32767) names the unix socket /var/run/tgtd/socket.N;
  // pick one unlikely to clash with another test run.
  const controlPort = 1000 + Math.floor(Math.random() * 31000);
  const child = spawn(TGTD, ['-f', '--iscsi', `portal=127.0.0.1:${port}`, '-C', String(controlPort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const tgtadm = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(TGTADM, ['-C', String(controlPort), '--lld', 'iscsi', ...args]);
    return stdout;
  };
  const stop = async (): Promise<void> => {
    if (live.delete(child)) child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
    for (const f of [`socket.${controlPort}`, `socket.${controlPort}.lock`]) {
      await rm(join('/var/run/tgtd', f), { force: true });
    }
  };

  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`tgtd exited early:\n${output}`);
      if (await canConnect(port)) break;
      if (i > 100) throw new Error(`tgtd did not listen on ${port}:\n${output}`);
      await sleep(50);
    }
    for (let i = 0; ; i++) {
      try {
        await tgtadm('--mode', 'target', '--op', 'new', '--tid', '1', '--targetname', iqn);
        break;
      } catch (err) {
        if (i > 40) throw err;
        await sleep(50);
      }
    }
    for (const l of opts.luns ?? [{ lun: 1, sizeBytes: 64 * 1024 * 1024 }]) {
      const file = join(dir, `lun${l.lun}.img`);
      await writeFile(file, '');
      await truncate(file, l.sizeBytes);
      await tgtadm(
        '--mode',
        'logicalunit',
        '--op',
        'new',
        '--tid',
        '1',
        '--lun',
        String(l.lun),
        '--backing-store',
        file,
      );
    }
    await tgtadm('--mode', 'target', '--op', 'bind', '--tid', '1', '--initiator-address', 'ALL');
    for (const a of opts.accounts ?? []) {
      await tgtadm('--mode', 'account', '--op', 'new', '--user', a.user, '--password', a.password);
      const bind = ['--mode', 'account', '--op', 'bind', '--tid', '1', '--user', a.user];
      await tgtadm(...bind, ...(a.outgoing ? ['--outgoing'] : []));
    }
    for (const [k, v] of Object.entries(opts.params ?? {})) {
      await tgtadm('--mode', 'target', '--op', 'update', '--tid', '1', '--name', k, '--value', v);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    host: '127.0.0.1',
    port,
    iqn,
    controlPort,
    tgtadm,
    setParam: async (name, value) => {
      await tgtadm('--mode', 'target', '--op', 'update', '--tid', '1', '--name', name, '--value', value);
    },
    log: () => output,
    stop,
  };
}
