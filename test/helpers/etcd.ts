// Starts private etcd servers (the Debian `etcd` binary) for cluster tests: loopback ports chosen
// free, a temp data dir each, client TLS required (DESIGN.md Trust: etcd with client TLS wherever
// the product runs it): a server certificate for 127.0.0.1 and a client certificate from one test
// CA per test process (src/security/ca.ts), in DATA_DIR/tls; a client without a certificate from
// that CA is refused at the handshake, a plaintext client gets nothing. Every server started here is SIGKILLed (after SIGCONT, in case a
// test paused it) and its data dir removed in the test file's afterAll, and SIGKILLed if the test
// process exits first, so a failing test never leaves an etcd behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { createCa, issueCert, type PemPair } from '../../src/security/ca.js';
import { freePorts } from './ports.js';
import { killOnExit } from './reaper.js';

export const ETCD_BIN = process.env.TANDEM_ETCD ?? '/usr/bin/etcd';

export interface StartEtcdOptions {
  /** How long to wait for /health to answer true. Default 15 s. */
  readyTimeoutMs?: number;
  /** Extra etcd flags. */
  args?: string[];
}

/** PEM files a client of the test etcd uses (node file `cluster.etcd.{ca,cert,key}`). */
export interface EtcdTlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** The etcd3 client's `credentials` option. */
export interface EtcdCredentials {
  readonly rootCertificate: Buffer;
  readonly certChain: Buffer;
  readonly privateKey: Buffer;
}

export interface Etcd {
  /** https://127.0.0.1:PORT — what a client's `endpoints` takes. */
  readonly endpoint: string;
  /** The CA etcd's certificate is signed by, and a client certificate etcd accepts. */
  readonly tls: EtcdTlsFiles;
  /** The same as `tls`, read: `new Etcd3({ hosts: [etcd.endpoint], credentials })`. */
  readonly credentials: EtcdCredentials;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** PID of the current process (changes after restart()). */
  readonly pid: number;
  /** SIGSTOP: etcd freezes (sockets stay open, nothing answers). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGTERM (SIGKILL after 5 s); resolves when it has exited. */
  stop(): Promise<void>;
  /** SIGKILL; resolves when it has exited. */
  kill(): Promise<void>;
  /** Starts etcd again on the same ports and data dir (after stop() or kill()). */
  restart(): Promise<void>;
  /** etcd's stderr so far (its log), for failure messages. */
  output(): string;
}

const live = new Set<ChildProcess>();
const ownedDirs = new Set<string>();

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function waitExit(child: ChildProcess): Promise<void> {
  if (!running(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGKILLs every etcd started here and removes their data dirs. */
export async function stopAllEtcds(): Promise<void> {
  await Promise.all(
    [...live].map(async (child) => {
      if (!running(child)) return;
      const gone = waitExit(child);
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await gone;
    }),
  );
  live.clear();
  if (!process.env.TANDEM_KEEP_TMP) {
    await Promise.all([...ownedDirs].map((d) => rm(d, { recursive: true, force: true })));
  }
  ownedDirs.clear();
}

afterAll(stopAllEtcds);

/** GET `url` over TLS with the client certificate; resolves with status and body. */
export function httpsGet(
  url: string,
  creds: Partial<EtcdCredentials>,
  timeoutMs = 1000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca: creds.rootCertificate,
        cert: creds.certChain,
        key: creds.privateKey,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function healthy(endpoint: string, creds: EtcdCredentials): Promise<boolean> {
  try {
    const res = await httpsGet(`${endpoint}/health`, creds);
    return (JSON.parse(res.body) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

interface TestPki {
  readonly ca: PemPair;
  readonly server: PemPair;
  readonly client: PemPair;
}

// One CA per test process: key generation is cheap, but there is no reason to repeat it.
let pki: Promise<TestPki> | undefined;
function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    const ca = await createCa('Tandem test etcd CA');
    // A server certificate (kind node: serverAuth) for the loopback address etcd listens on.
    const server = await issueCert(ca, {
      name: 'etcd',
      kind: 'node',
      ipAddresses: ['127.0.0.1'],
      dnsNames: ['localhost'],
    });
    const client = await issueCert(ca, { name: 'etcd-test-client', kind: 'admin' });
    return { ca, server, client };
  })();
  return pki;
}

async function writeTls(dir: string): Promise<{ files: EtcdTlsFiles; server: EtcdTlsFiles }> {
  const p = await testPki();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => path.join(dir, n);
  await writeFile(f('ca.crt'), p.ca.certPem);
  await writeFile(f('server.crt'), p.server.certPem);
  await writeFile(f('server.key'), p.server.keyPem, { mode: 0o600 });
  await writeFile(f('client.crt'), p.client.certPem);
  await writeFile(f('client.key'), p.client.keyPem, { mode: 0o600 });
  return {
    files: { ca: f('ca.crt'), cert: f('client.crt'), key: f('client.key') },
    server: { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') },
  };
}

export async function startEtcd(opts: StartEtcdOptions = {}): Promise<Etcd> {
  if (!existsSync(ETCD_BIN)) throw new Error(`${ETCD_BIN} not found: install the Debian package etcd-server`);
  killOnExit(live);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tandem-etcd-'));
  ownedDirs.add(dataDir);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
  const tls = await writeTls(path.join(dataDir, 'tls'));
  const p = await testPki();
  const credentials: EtcdCredentials = {
    rootCertificate: Buffer.from(p.ca.certPem),
    certChain: Buffer.from(p.client.certPem),
    privateKey: Buffer.from(p.client.keyPem),
  };

  let child: ChildProcess | undefined;
  let stderr = '';
  let clientPort = 0;
  let peerPort = 0;

  const launch = async (): Promise<void> => {
    const endpoint = `https://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const args = [
      '--name',
      't',
      '--data-dir',
      path.join(dataDir, 'data'),
      '--listen-client-urls',
      endpoint,
      '--advertise-client-urls',
      endpoint,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `t=${peer}`,
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      // Client TLS: only clients with a certificate from the test CA get in.
      '--cert-file',
      tls.server.cert,
      '--key-file',
      tls.server.key,
      '--trusted-ca-file',
      tls.server.ca,
      '--client-cert-auth',
      ...(opts.args ?? []),
    ];
    const c = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    live.add(c);
    c.stderr?.setEncoding('utf8');
    c.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
    });
    c.once('exit', () => live.delete(c));
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline) {
      if (!running(c))
        throw new Error(`etcd exited during startup (code ${c.exitCode}):\n${stderr.slice(-4000)}`);
      if (await healthy(endpoint, credentials)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    c.kill('SIGKILL');
    throw new Error(`etcd not healthy after ${readyTimeoutMs} ms:\n${stderr.slice(-4000)}`);
  };

  // A port chosen free can be taken before etcd binds it: try fresh ports a few times.
  for (let attempt = 1; ; attempt++) {
    [clientPort, peerPort] = (await freePorts(2)) as [number, number];
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test(String(err))) throw err;
    }
  }

  const current = () => {
    if (!child) throw new Error('etcd was never started');
    return child;
  };
  return {
    endpoint: `https://127.0.0.1:${clientPort}`,
    tls: tls.files,
    credentials,
    clientPort,
    peerPort,
    dataDir,
    get pid() {
      return current().pid ?? -1;
    },
    pause: () => void current().kill('SIGSTOP'),
    resume: () => void current().kill('SIGCONT'),
    stop: async () => {
      const c = current();
      if (!running(c)) return;
      const gone = waitExit(c);
      c.kill('SIGCONT');
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    },
    kill: async () => {
      const c = current();
      if (!running(c)) return;
      const gone = waitExit(c);
      c.kill('SIGKILL');
      await gone;
    },
    restart: async () => {
      if (child && running(child)) throw new Error('etcd is still running: stop() or kill() it first');
      await launch();
    },
    output: () => stderr,
  };
}
