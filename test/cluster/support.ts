// Shared pieces of the cluster tests: coordinators on a private etcd under a prefix of their own,
// a pino sink to assert on structured log fields, event recorders, and the campaigner child.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll } from 'vitest';
import type { CoordinatorEvents } from '../../src/cluster/coordinator.js';
import { EtcdCoordinator, type EtcdCoordinatorOptions } from '../../src/cluster/etcd-coordinator.js';
import type { Logger } from '../../src/util/logger.js';
import type { Etcd } from '../helpers/etcd.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface LogRecord {
  level: number;
  msg: string;
  node?: string;
  volume?: string;
  from?: string;
  to?: string;
  reason?: string;
  [key: string]: unknown;
}

/** A pino logger whose records land in `records` (TANDEM_TEST_LOGS=1 also prints them). */
export function memoryLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        records.push(JSON.parse(line) as LogRecord);
        if (process.env.TANDEM_TEST_LOGS) process.stderr.write(`${line}\n`);
      }
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), records };
}

/** A key prefix of its own per test, so tests sharing one etcd never see each other's keys. */
export function freshPrefix(): string {
  return `/tandem/t-${randomBytes(4).toString('hex')}/`;
}

const open = new Set<EtcdCoordinator>();
afterAll(async () => {
  await Promise.all([...open].map((c) => c.close().catch(() => undefined)));
  open.clear();
});

export function coordinator(
  etcd: Etcd,
  name: string,
  prefix: string,
  opts: Partial<EtcdCoordinatorOptions> = {},
): EtcdCoordinator {
  const c = new EtcdCoordinator({
    endpoints: [etcd.endpoint],
    credentials: etcd.credentials,
    prefix,
    node: {
      name,
      portals: [`127.0.0.1:${3260 + name.length}`],
      grpc: `127.0.0.1:9${name.length}00`,
      admin: '127.0.0.1:0',
    },
    logger: opts.logger ?? memoryLogger().logger,
    leaseTtlSeconds: 3,
    ...opts,
  });
  open.add(c);
  return c;
}

type Recorded = { [E in keyof CoordinatorEvents]: { at: number } & Parameters<CoordinatorEvents[E]>[0] };

/** Records every coordinator event with its monotonic time. */
export function record(c: EtcdCoordinator) {
  const events = { leadershipAcquired: [], leadershipLost: [], session: [] } as {
    [E in keyof Recorded]: Recorded[E][];
  };
  c.on('leadershipAcquired', (e) => events.leadershipAcquired.push({ at: performance.now(), ...e }));
  c.on('leadershipLost', (e) => events.leadershipLost.push({ at: performance.now(), ...e }));
  c.on('session', (e) => events.session.push({ at: performance.now(), ...e }));
  return events;
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false,
  timeoutMs = 10_000,
  stepMs = 10,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** The compiled coordinator the campaigner child runs must be at least as new as its sources. */
export function assertBuilt(): void {
  const src = path.join(REPO_ROOT, 'src/cluster');
  const dist = path.join(REPO_ROOT, 'dist/src/cluster');
  for (const f of readdirSync(src).filter((n) => n.endsWith('.ts'))) {
    const js = path.join(dist, f.replace(/\.ts$/, '.js'));
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(path.join(src, f)).mtimeMs) {
      throw new Error(`${js} is missing or older than its source: run \`npm run build\` first`);
    }
  }
}

/** One line the campaigner printed, with the (monotonic) time it arrived. */
export interface CampaignerLine {
  event: string;
  epoch?: number;
  value?: boolean;
  reason?: string;
  at: number;
}

export interface Campaigner {
  readonly child: ChildProcess;
  readonly lines: CampaignerLine[];
  waitEvent(event: string, timeoutMs?: number): Promise<CampaignerLine>;
}

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export function spawnCampaigner(
  etcd: Etcd,
  prefix: string,
  name: string,
  volume: string,
  ttl: number,
): Campaigner {
  assertBuilt();
  const script = path.join(REPO_ROOT, 'test/cluster/fixtures/campaigner.mjs');
  const { ca, cert, key } = etcd.tls;
  const child = spawn(
    process.execPath,
    [script, etcd.endpoint, prefix, name, volume, String(ttl), ca, cert, key],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.add(child);
  const lines: CampaignerLine[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push({
        ...(JSON.parse(buf.slice(0, i)) as Omit<CampaignerLine, 'at'>),
        at: performance.now(),
      });
      buf = buf.slice(i + 1);
    }
  });
  return {
    child,
    lines,
    waitEvent: (event, timeoutMs = 10_000) =>
      waitFor(`campaigner ${name}: ${event}`, () => lines.find((l) => l.event === event), timeoutMs),
  };
}
