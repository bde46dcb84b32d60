// deploy/local/cluster: a local Tandem cluster on loopback — a private etcd (the Debian `etcd`
// binary) and N tandemd nodes sharing one volume — for trying Tandem, the README walkthrough
// and the cluster tests (test/helpers/cluster.ts). Everything lives in one directory:
//
//   DIR/cluster.json          what is running: etcd endpoints and pid, target, nodes, LUNs
//   DIR/etcd/data, etcd.log   etcd's data (kept by `down`, reused by the next `up`) and log
//   DIR/tls/                  the cluster CA, node and admin client certificates
//   DIR/tls/etcd/             etcd's own CA, its server certificate (etcd.crt), one client
//                             certificate per node (<name>.crt) and one for etcdctl
//   DIR/<name>/node.yaml      each node's configuration (names a, b, c, …)
//   DIR/<name>/tandemd.log    its JSON log (stdout and stderr)
//   DIR/shared/vol0.img       the shared volume's backing file (sparse)
//
// Processes are started detached and found again by PID (checked against /proc/PID/cmdline,
// so a recycled PID is never signalled). Exit status: 0 done, 1 failed (a process did not
// start, a node is not running, …), 2 bad usage, 3 `status`: not everything is running.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';

const PROG = 'cluster';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TANDEMD = process.env.TANDEM_TANDEMD ?? path.join(REPO, 'dist/cmd/tandemd.js');
/** V8 flags tandemd runs with (as in its shebang line; README "Running tandemd yourself"). */
const NODE_FLAGS = ['--initial-heap-size=128'];
const TARGET = 'iqn.2026-11.org.tandem:cluster';
const PREFIX = '/tandem/local';
const VOLUME = 'vol0';
const NAMES = 'abcdefghijklmnopqrstuvwxyz';

const HELP = `Usage: ${PROG} COMMAND [options]        (also: npm run cluster -- COMMAND [options])

A local Tandem cluster on loopback: a private etcd and N tandemd nodes exporting target
${TARGET}, LUN 0 = volume ${VOLUME}. Run \`npm run build\` first (the nodes run dist/cmd/tandemd.js).

Commands:
  up --nodes N --dir DIR [--kind shared|replicated] [--size 1G] [--portal-base PORT]
     [--standby] [--ttl 5] [--timeout 30] [--log-level info] [--insecure]
        Start etcd (free loopback ports, data in DIR/etcd, client TLS with certificates from
        its own CA in DIR/tls/etcd), then node a, then the others, wait
        for every node's ready line and write DIR/cluster.json. Node a starts first, so it is
        the primary of ${VOLUME}. Node i (a = 0) listens on 127.0.0.1:PORT+i with --portal-base,
        else on a free port (kept across restarts). --standby: the non-primary nodes are
        Standby instead of Active/Non-optimized. --ttl: lease TTL in seconds. --timeout: how
        long to wait for each process. Re-running \`up\` on a stopped DIR restarts everything on
        the same etcd data (configuration, reservations and ids persist). --insecure: no TLS
        anywhere (plaintext etcd, node files with insecure: true), for comparisons only.
  down --dir DIR [--timeout 10]
        Stop every node, then etcd: SIGTERM, SIGKILL after --timeout seconds.
  kill NODE --dir DIR       SIGKILL one node (e.g. the primary).
  start NODE --dir DIR      Start a stopped node again with the same configuration and portal.
  stop-etcd --dir DIR       SIGSTOP etcd (it freezes; connections stay open).
  cont-etcd --dir DIR       SIGCONT etcd.
  status --dir DIR [--json] Print cluster.json and which processes run; exit 3 unless all do.
  env --dir DIR [NODE]      Print the export lines tandemctl needs: TANDEM_ENDPOINT and the
                            admin client certificate (TANDEM_CA, TANDEM_CERT, TANDEM_KEY),
                            and etcdctl's (ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, …):
                            eval "$(${PROG} env --dir DIR)"
  endpoint --dir DIR [NODE] Print a running node's admin address (HOST:PORT) for tandemctl:
                            export TANDEM_ENDPOINT=$(${PROG} endpoint --dir DIR)
  url NODE --dir DIR        Print the node's target URL, iscsi://HOST:PORT/TARGET (append /LUN).

Exit status: 0 done, 1 failed, 2 bad usage, 3 (status) something is not running.
Environment: TANDEM_ETCD (etcd binary, default /usr/bin/etcd), TANDEM_TANDEMD (tandemd.js).`;

class UsageError extends Error {}
class Failure extends Error {
  /** @param {string} message one line @param {string} [detail] printed after it (log tails) */
  constructor(message, detail) {
    super(message);
    this.detail = detail;
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

async function freePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** running | stopped (SIGSTOP) | dead. `marker` must appear in the command line (PID reuse). */
function procState(pid, marker) {
  if (!Number.isInteger(pid) || pid <= 0) return 'dead';
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return 'dead';
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (marker && !cmdline.includes(marker)) return 'dead';
    return state === 'T' || state === 't' ? 'stopped' : 'running';
  } catch {
    if (fs.existsSync('/proc/self/stat')) return 'dead';
    try {
      process.kill(pid, 0); // no /proc (not Linux): trust the PID
      return 'running';
    } catch {
      return 'dead';
    }
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitDead(pid, marker, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (procState(pid, marker) === 'dead') return true;
    await sleep(25);
  }
  return procState(pid, marker) === 'dead';
}

/** SIGTERM (after SIGCONT), SIGKILL after timeoutMs; resolves when the process is gone. */
async function terminate(pid, marker, timeoutMs) {
  if (procState(pid, marker) === 'dead') return 'not running';
  signal(pid, 'SIGCONT');
  signal(pid, 'SIGTERM');
  if (await waitDead(pid, marker, timeoutMs)) return 'stopped';
  signal(pid, 'SIGKILL');
  await waitDead(pid, marker, 5000);
  return 'killed after timeout';
}

function tail(file, lines = 25) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').filter(Boolean).slice(-lines).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

const SIZE_RE = /^(\d+)([KMGT]?)$/i;
function parseSize(s) {
  const m = SIZE_RE.exec(String(s));
  if (!m) throw new UsageError(`bad --size ${s}: expected e.g. 64M, 1G, 4096`);
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase()];
  const bytes = Number(m[1]) * mult;
  if (bytes < 1 << 20 || bytes % 4096 !== 0) throw new UsageError(`bad --size ${s}: at least 1M, a multiple of 4K`);
  return bytes;
}

function intOption(value, name, min, max) {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new UsageError(`bad --${name} ${value}: expected an integer from ${min} to ${max}`);
  return Number(value);
}

function writeJsonAtomic(file, value) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

function readCluster(dir) {
  const file = path.join(dir, 'cluster.json');
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Failure(`no cluster in ${dir}: ${file} does not exist (start one with \`${PROG} up\`)`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Failure(`${file} is not valid JSON: ${err.message}`);
  }
}

const etcdMarker = (c) => c.etcdDataDir;
const nodeMarker = (n) => n.config;

function nodeUrl(portal, lun = 0) {
  return `iscsi://${portal}/${TARGET}/${lun}`;
}

// ---------------------------------------------------------------------------------------------
// etcd

function etcdBinary() {
  const bin = process.env.TANDEM_ETCD ?? '/usr/bin/etcd';
  if (!fs.existsSync(bin))
    throw new Failure(`${bin} not found: install the Debian package etcd-server (or set TANDEM_ETCD)`);
  return bin;
}

/** GET ENDPOINT/health (over TLS with `tls` = {ca, cert, key} file paths, if given). */
function healthy(endpoint, tls) {
  if (!tls) {
    return fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) }).then(
      async (res) => ((await res.json()).health ?? '') === 'true',
      () => false,
    );
  }
  return new Promise((resolve) => {
    const opts = { ca: fs.readFileSync(tls.ca), cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key), timeout: 1000 };
    const req = https.get(`${endpoint}/health`, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => {
        try {
          resolve((JSON.parse(body).health ?? '') === 'true');
        } catch {
          resolve(false);
        }
      });
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}

/**
 * Starts etcd detached; `prev` = the ports of an earlier run on this DIR (reused when free).
 * `tls` (DIR/tls files, see etcdTls): client TLS, every client needs a certificate from the CA.
 */
async function startEtcd(dir, prev, timeoutMs, started, tls) {
  const bin = etcdBinary();
  const etcdDir = path.join(dir, 'etcd');
  const dataDir = path.join(etcdDir, 'data');
  const log = path.join(etcdDir, 'etcd.log');
  fs.mkdirSync(etcdDir, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    let ports;
    if (attempt === 1 && prev && (await portIsFree(prev[0])) && (await portIsFree(prev[1]))) ports = prev;
    else ports = await freePorts(2);
    const [clientPort, peerPort] = ports;
    const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
    // One member on loopback: no peer traffic leaves the host (deploy/systemd shows peer TLS).
    const peer = `http://127.0.0.1:${peerPort}`;
    const offset = fs.existsSync(log) ? fs.statSync(log).size : 0;
    const fd = fs.openSync(log, 'a');
    const env = { ...process.env };
    if (process.arch === 'arm64') env.ETCD_UNSUPPORTED_ARCH = 'arm64';
    const child = spawn(
      bin,
      [
        '--name',
        'local',
        '--data-dir',
        dataDir,
        '--listen-client-urls',
        endpoint,
        '--advertise-client-urls',
        endpoint,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `local=${peer}`,
        '--logger',
        'zap',
        '--log-outputs',
        'stderr',
        ...(tls
          ? ['--cert-file', tls.server.cert, '--key-file', tls.server.key, '--trusted-ca-file', tls.ca, '--client-cert-auth']
          : []),
      ],
      { detached: true, stdio: ['ignore', fd, fd], env },
    );
    fs.closeSync(fd);
    child.unref();
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    started.etcd = { pid: child.pid, marker: dataDir };
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await healthy(endpoint, tls && { ca: tls.ca, cert: tls.server.cert, key: tls.server.key }))
        return { endpoint, pid: child.pid, clientPort, peerPort, dataDir, log };
      const newLog = () => fs.readFileSync(log, 'utf8').slice(offset);
      if (exited) {
        if (attempt < 3 && /address already in use/.test(newLog())) break;
        throw new Failure(`etcd exited during startup (log ${log}):`, newLog().split('\n').slice(-15).join('\n'));
      }
      if (Date.now() > deadline) {
        signal(child.pid, 'SIGKILL');
        throw new Failure(`etcd not healthy after ${timeoutMs / 1000} s (log ${log}):`, tail(log, 15));
      }
      await sleep(50);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Nodes

function nodeConfig(c, name, portal, admin = '127.0.0.1:0') {
  const vol = {
    id: VOLUME,
    kind: c.luns[0].kind,
    size: c.luns[0].size,
    blockSize: 512,
    // shared: the one image every node opens; replicated: each node's own file in its dataDir.
    ...(c.luns[0].kind === 'shared' ? { path: c.sharedImage } : {}),
    standby: c.standby,
  };
  return {
    node: { name, dataDir: path.join(c.dir, name) },
    // Shared images live in DIR/shared/, outside every node's dataDir: admitted by name.
    allowedDevices: [`${path.join(c.dir, 'shared')}/`],
    portals: [portal],
    cluster: {
      // etcd with client TLS, from etcd's own CA: no Tandem client certificate (admin,
      // read-only) opens etcd, and the node's etcd certificate is not a node-to-node one.
      etcd: c.insecure
        ? c.etcd
        : { endpoints: c.etcd, ca: `../${ETCD_TLS_DIR}/ca.crt`, cert: `../${ETCD_TLS_DIR}/${name}.crt`, key: `../${ETCD_TLS_DIR}/${name}.key` },
      prefix: PREFIX,
      leaseTtlSeconds: c.ttl,
      grpc: '127.0.0.1:0',
    },
    // Mutual TLS node to node (docs/security.md); paths are relative to the node's dataDir.
    ...(c.insecure
      ? { insecure: true }
      : { tls: { ca: `../${TLS_DIR}/ca.crt`, cert: `../${TLS_DIR}/${name}.crt`, key: `../${TLS_DIR}/${name}.key` } }),
    // tandemctl's endpoint: a free port the first time, pinned afterwards (see pinPortal).
    admin: { listen: admin },
    bootstrap: {
      targets: [{ iqn: TARGET, alias: 'cluster' }],
      volumes: [vol],
      luns: [{ target: TARGET, lun: 0, volume: VOLUME }],
    },
  };
}

const TLS_DIR = 'tls';
const ETCD_TLS_DIR = 'tls/etcd';

/**
 * The cluster's CA (DIR/tls/ca.crt) and the node's certificate, created once and kept across
 * down/up; an admin client certificate (admin.crt) for tandemctl (see `env`).
 */
async function ensureCerts(dir, name) {
  const { initCaDir, issueClientFiles, issueNodeFiles } = await certFiles();
  const tls = path.join(dir, TLS_DIR);
  if (!fs.existsSync(path.join(tls, 'ca.crt'))) await initCaDir(tls, 'Tandem local cluster CA');
  if (!fs.existsSync(path.join(tls, 'admin.crt'))) await issueClientFiles(tls, 'admin', 'admin');
  if (!fs.existsSync(path.join(tls, `${name}.crt`))) {
    await issueNodeFiles(tls, name, { ip: ['127.0.0.1', '::1'], dns: ['localhost'] });
  }
  const etcd = path.join(dir, ETCD_TLS_DIR);
  if (!fs.existsSync(path.join(etcd, `${name}.crt`))) await issueNodeFiles(etcd, name);
}

function certFiles() {
  const js = path.join(REPO, 'dist/src/security/cert-files.js');
  if (!fs.existsSync(js)) throw new Failure(`${js} not found: run \`npm run build\` first`);
  return import(js);
}

/**
 * etcd's TLS files in DIR/tls/etcd, created once: etcd's own CA, its server certificate
 * (etcd.crt, for 127.0.0.1) and a client certificate for etcdctl and the tests (etcdctl.crt).
 * Returns the paths ({ca, cert, key} = the etcdctl client's; server = etcd's own).
 */
async function etcdTls(dir) {
  const { initCaDir, issueClientFiles, issueNodeFiles } = await certFiles();
  const tls = path.join(dir, ETCD_TLS_DIR);
  if (!fs.existsSync(path.join(tls, 'ca.crt'))) await initCaDir(tls, 'Tandem local etcd CA');
  if (!fs.existsSync(path.join(tls, 'etcd.crt'))) {
    await issueNodeFiles(tls, 'etcd', { ip: ['127.0.0.1'], dns: ['localhost'] });
  }
  if (!fs.existsSync(path.join(tls, 'etcdctl.crt'))) await issueClientFiles(tls, 'etcdctl', 'admin');
  const f = (n) => path.join(tls, n);
  return {
    ca: f('ca.crt'),
    cert: f('etcdctl.crt'),
    key: f('etcdctl.key'),
    server: { cert: f('etcd.crt'), key: f('etcd.key') },
  };
}

function writeNodeConfig(file, config) {
  const header =
    `# Written by deploy/local/cluster (${new Date().toISOString()}); \`${PROG} start\` reuses it.\n` +
    '# bootstrap: written to etcd only if etcd holds no configuration yet.\n';
  fs.writeFileSync(file, header + YAML.stringify(config));
}

/** Reads complete JSON lines of `file` from `offset`; returns the new offset. */
function readLines(file, offset, onLine) {
  let buf;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= offset) return offset;
      buf = Buffer.alloc(size - offset);
      fs.readSync(fd, buf, 0, buf.length, offset);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return offset;
  }
  const end = buf.lastIndexOf(0x0a);
  if (end < 0) return offset;
  for (const text of buf.subarray(0, end).toString('utf8').split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      onLine(JSON.parse(text));
    } catch {
      // not JSON: ignore
    }
  }
  return offset + end + 1;
}

/** Spawns one node detached (log appended to node.log); resolves with its ready line. */
async function startNode(c, node, timeoutMs, logLevel, started, onSpawn) {
  if (!fs.existsSync(TANDEMD)) throw new Failure(`${TANDEMD} not found: run \`npm run build\` first`);
  const offset = fs.existsSync(node.log) ? fs.statSync(node.log).size : 0;
  const fd = fs.openSync(node.log, 'a');
  const args = [...NODE_FLAGS, TANDEMD, '--config', node.config, ...(logLevel ? ['--log-level', logLevel] : [])];
  const child = spawn(process.execPath, args, { cwd: REPO, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.unref();
  let exit;
  child.once('exit', (code, sig) => {
    exit = sig ? `signal ${sig}` : `code ${code}`;
  });
  started.nodes.set(node.name, { pid: child.pid, marker: node.config });
  onSpawn?.(child.pid);
  const deadline = Date.now() + timeoutMs;
  let pos = offset;
  let ready;
  for (;;) {
    pos = readLines(node.log, pos, (line) => {
      if (line.event === 'ready' && !ready) ready = line;
    });
    if (ready) break;
    if (exit) throw new Failure(`node ${node.name} exited (${exit}) before it was ready; last lines of ${node.log}:`, tail(node.log));
    if (Date.now() > deadline) {
      signal(child.pid, 'SIGKILL');
      throw new Failure(`node ${node.name} not ready after ${timeoutMs / 1000} s; last lines of ${node.log}:`, tail(node.log));
    }
    await sleep(50);
  }
  if (ready.mode !== 'cluster') {
    signal(child.pid, 'SIGKILL');
    throw new Failure(
      `node ${node.name} started in ${ready.mode ?? 'an unknown'} mode, not cluster mode: this tandemd build ignores the cluster: section (issue #4)`,
    );
  }
  const portal = Array.isArray(ready.portals) ? ready.portals[0] : undefined;
  if (typeof portal !== 'string') throw new Failure(`node ${node.name}'s ready line names no portal: ${JSON.stringify(ready)}`);
  return {
    pid: child.pid,
    portal,
    grpc: typeof ready.grpc === 'string' ? ready.grpc : null,
    admin: typeof ready.admin === 'string' ? ready.admin : null,
  };
}

/** Pins the portal and admin port the kernel picked into the node's file, so `start` reuses them. */
function pinPortal(node, portal, admin) {
  const doc = YAML.parse(fs.readFileSync(node.config, 'utf8'));
  if (doc.portals?.[0] === portal && (!admin || doc.admin?.listen === admin)) return;
  doc.portals = [portal];
  if (admin) doc.admin = { listen: admin };
  writeNodeConfig(node.config, doc);
}

// ---------------------------------------------------------------------------------------------
// Commands

/** What this invocation started, so a failure (or Ctrl-C) tears it down again. */
function newStarted() {
  return { etcd: undefined, nodes: new Map() };
}

async function teardown(started) {
  await Promise.all([...started.nodes.values()].map((p) => terminate(p.pid, p.marker, 5000)));
  if (started.etcd) await terminate(started.etcd.pid, started.etcd.marker, 5000);
}

async function cmdUp(dir, o, started) {
  const nodes = intOption(o.nodes, 'nodes', 1, NAMES.length);
  if (nodes === undefined) throw new UsageError('up needs --nodes N');
  const kind = o.kind ?? 'shared';
  if (kind !== 'shared' && kind !== 'replicated') throw new UsageError(`bad --kind ${kind}: expected shared or replicated`);
  const size = o.size ?? '1G';
  const bytes = parseSize(size);
  const portalBase = intOption(o['portal-base'], 'portal-base', 1, 65535 - nodes + 1);
  const ttl = intOption(o.ttl ?? '5', 'ttl', 1, 600);
  const timeoutMs = intOption(o.timeout ?? '30', 'timeout', 1, 3600) * 1000;

  fs.mkdirSync(dir, { recursive: true });
  const jsonFile = path.join(dir, 'cluster.json');
  let prev;
  if (fs.existsSync(jsonFile)) {
    prev = readCluster(dir);
    const live = [
      ...(procState(prev.etcdPid, etcdMarker(prev)) !== 'dead' ? [`etcd ${prev.etcdPid}`] : []),
      ...(prev.nodes ?? []).filter((n) => procState(n.pid, nodeMarker(n)) !== 'dead').map((n) => `${n.name} ${n.pid}`),
    ];
    if (live.length > 0)
      throw new Failure(`a cluster is already running in ${dir} (${live.join(', ')}): \`${PROG} down --dir ${dir}\` first`);
  }
  const reused = fs.existsSync(path.join(dir, 'etcd', 'data'));
  const insecure = Boolean(o.insecure);
  const tls = insecure ? undefined : await etcdTls(dir);

  const etcd = await startEtcd(
    dir,
    prev?.etcdPorts ? [prev.etcdPorts.client, prev.etcdPorts.peer] : undefined,
    Math.max(timeoutMs, 15_000),
    started,
    tls,
  );
  fs.mkdirSync(path.join(dir, 'shared'), { recursive: true });
  const sharedImage = path.join(dir, 'shared', `${VOLUME}.img`);
  // Created (sparse) here, not by the nodes, so that no two nodes race to create it.
  const fd = fs.openSync(sharedImage, 'a');
  if (fs.fstatSync(fd).size < bytes) fs.ftruncateSync(fd, bytes);
  fs.closeSync(fd);

  const c = {
    dir,
    etcd: [etcd.endpoint],
    etcdPid: etcd.pid,
    etcdPorts: { client: etcd.clientPort, peer: etcd.peerPort },
    etcdDataDir: etcd.dataDir,
    etcdLog: etcd.log,
    // A client certificate etcd accepts (etcdctl, tests); absent with --insecure.
    ...(tls ? { etcdTls: { ca: tls.ca, cert: tls.cert, key: tls.key } } : {}),
    insecure,
    prefix: PREFIX,
    ttl,
    standby: Boolean(o.standby),
    sharedImage,
    target: TARGET,
    nodes: [],
    luns: [{ lun: 0, volume: VOLUME, kind, size }],
  };
  const prevNode = (name) => prev?.nodes?.find((n) => n.name === name);
  for (let i = 0; i < nodes; i++) {
    const name = NAMES[i];
    const nodeDir = path.join(dir, name);
    fs.mkdirSync(nodeDir, { recursive: true });
    const old = prevNode(name);
    let portal = '127.0.0.1:0';
    if (portalBase !== undefined) portal = `127.0.0.1:${portalBase + i}`;
    else if (old?.portal && (await portIsFree(Number(old.portal.split(':').pop())))) portal = old.portal;
    // The admin port too: a TANDEM_ENDPOINT exported before `down` still works after `up`.
    let admin = '127.0.0.1:0';
    if (old?.admin && (await portIsFree(Number(old.admin.split(':').pop())))) admin = old.admin;
    const node = {
      name,
      portal,
      url: undefined,
      grpc: null,
      pid: 0,
      config: path.join(nodeDir, 'node.yaml'),
      log: path.join(nodeDir, 'tandemd.log'),
    };
    if (!insecure) await ensureCerts(c.dir, name);
    writeNodeConfig(node.config, nodeConfig(c, name, portal, admin));
    c.nodes.push(node);
  }
  writeJsonAtomic(jsonFile, c);

  const launch = async (node) => {
    const r = await startNode(c, node, timeoutMs, o['log-level'], started, (pid) => {
      node.pid = pid; // in cluster.json at once: `down` finds it even if this script dies now
      writeJsonAtomic(jsonFile, c);
    });
    Object.assign(node, { portal: r.portal, url: nodeUrl(r.portal), grpc: r.grpc, admin: r.admin, pid: r.pid });
    pinPortal(node, r.portal, r.admin);
    writeJsonAtomic(jsonFile, c);
  };
  // Node a first: it wins the elections, so the primary is known (a) once `up` returns.
  await launch(c.nodes[0]);
  const rest = await Promise.allSettled(c.nodes.slice(1).map(launch));
  const failed = rest.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;

  console.log(`cluster up in ${dir}: ${nodes} node${nodes > 1 ? 's' : ''}, ${kind} volume ${VOLUME} (${size}), lease TTL ${ttl} s${c.standby ? ', standby' : ''}`);
  if (reused) console.log('  (etcd data reused from an earlier run: its configuration wins over these options)');
  console.log(`  etcd  ${etcd.endpoint}  pid ${etcd.pid}${tls ? `  (client TLS, certificates in ${path.join(dir, ETCD_TLS_DIR)})` : '  (plaintext: --insecure)'}`);
  for (const n of c.nodes)
    console.log(`  ${n.name}     ${n.url}  pid ${n.pid}  grpc ${n.grpc ?? '?'}  admin ${n.admin ?? '?'}  log ${n.log}`);
  console.log(`  ${jsonFile}`);
  console.log(`  tandemctl: export TANDEM_ENDPOINT=${c.nodes[0].admin}   (or: ${PROG} endpoint --dir ${dir})`);
}

async function cmdDown(dir, o) {
  const c = readCluster(dir);
  const timeoutMs = intOption(o.timeout ?? '10', 'timeout', 1, 3600) * 1000;
  // etcd first gets SIGCONT: a node shutting down may wait for it (resigning leadership).
  if (procState(c.etcdPid, etcdMarker(c)) === 'stopped') signal(c.etcdPid, 'SIGCONT');
  const results = await Promise.all(
    c.nodes.map(async (n) => `${n.name} ${await terminate(n.pid, nodeMarker(n), timeoutMs)}`),
  );
  results.push(`etcd ${await terminate(c.etcdPid, etcdMarker(c), timeoutMs)}`);
  console.log(`cluster down in ${dir}: ${results.join(', ')}`);
}

function findNode(c, name) {
  if (!name) throw new UsageError('which node? e.g. `kill a --dir DIR`');
  const n = c.nodes.find((x) => x.name === name);
  if (!n) throw new Failure(`no node ${name} in ${c.dir} (nodes: ${c.nodes.map((x) => x.name).join(', ')})`);
  return n;
}

async function cmdKill(dir, name) {
  const c = readCluster(dir);
  const n = findNode(c, name);
  if (procState(n.pid, nodeMarker(n)) === 'dead') throw new Failure(`node ${name} is not running`);
  signal(n.pid, 'SIGKILL');
  if (!(await waitDead(n.pid, nodeMarker(n), 5000))) throw new Failure(`node ${name} (pid ${n.pid}) survived SIGKILL for 5 s`);
  console.log(`killed ${name} (pid ${n.pid})`);
}

async function cmdStart(dir, name, o, started) {
  const jsonFile = path.join(dir, 'cluster.json');
  const c = readCluster(dir);
  const n = findNode(c, name);
  if (procState(n.pid, nodeMarker(n)) !== 'dead') throw new Failure(`node ${name} is already running (pid ${n.pid})`);
  const etcdState = procState(c.etcdPid, etcdMarker(c));
  if (etcdState === 'dead') throw new Failure(`etcd (pid ${c.etcdPid}) is not running: \`${PROG} down\` then \`up\` restarts everything`);
  if (etcdState === 'stopped') console.error(`${PROG}: warning: etcd is stopped (SIGSTOP); node ${name} will wait for it`);
  const timeoutMs = intOption(o.timeout ?? '30', 'timeout', 1, 3600) * 1000;
  const r = await startNode(c, n, timeoutMs, o['log-level'], started);
  // Re-read: another `start` may have updated the file meanwhile.
  const now = readCluster(dir);
  const m = findNode(now, name);
  Object.assign(m, { portal: r.portal, url: nodeUrl(r.portal), grpc: r.grpc, admin: r.admin, pid: r.pid });
  writeJsonAtomic(jsonFile, now);
  console.log(`started ${name}: ${m.url}  pid ${r.pid}  grpc ${r.grpc ?? '?'}  admin ${r.admin ?? '?'}`);
}

function cmdEndpoint(dir, name) {
  const c = readCluster(dir);
  const candidates = name ? [findNode(c, name)] : c.nodes;
  const n = candidates.find((x) => x.admin && procState(x.pid, nodeMarker(x)) === 'running');
  if (!n) throw new Failure(name ? `node ${name} is not running` : 'no node is running');
  console.log(n.admin);
  return 0;
}

/** The export lines tandemctl reads (TANDEM_ENDPOINT and the admin client certificate). */
function cmdEnv(dir, name) {
  const c = readCluster(dir);
  const candidates = name ? [findNode(c, name)] : c.nodes;
  const n = candidates.find((x) => x.admin && procState(x.pid, nodeMarker(x)) === 'running');
  if (!n) throw new Failure(name ? `node ${name} is not running` : 'no node is running');
  const tls = path.resolve(dir, TLS_DIR);
  const q = (v) => `'${v.replace(/'/g, `'\\''`)}'`;
  console.log(`export TANDEM_ENDPOINT=${q(n.admin)}`);
  // --insecure: no certificates exist, and tandemctl dials plaintext without them.
  if (!c.insecure) {
    console.log(`export TANDEM_CA=${q(path.join(tls, 'ca.crt'))}`);
    console.log(`export TANDEM_CERT=${q(path.join(tls, 'admin.crt'))}`);
    console.log(`export TANDEM_KEY=${q(path.join(tls, 'admin.key'))}`);
  }
  etcdctlEnv(c, q);
  return 0;
}

/** etcdctl's variables (its --endpoints, --cacert, --cert, --key flags). */
function etcdctlEnv(c, q) {
  console.log('export ETCDCTL_API=3');
  console.log(`export ETCDCTL_ENDPOINTS=${q(c.etcd.join(','))}`);
  if (!c.etcdTls) return;
  console.log(`export ETCDCTL_CACERT=${q(c.etcdTls.ca)}`);
  console.log(`export ETCDCTL_CERT=${q(c.etcdTls.cert)}`);
  console.log(`export ETCDCTL_KEY=${q(c.etcdTls.key)}`);
}

function cmdEtcdSignal(dir, sig) {
  const c = readCluster(dir);
  const state = procState(c.etcdPid, etcdMarker(c));
  if (state === 'dead') throw new Failure(`etcd (pid ${c.etcdPid}) is not running`);
  signal(c.etcdPid, sig);
  console.log(`etcd (pid ${c.etcdPid}) ${sig === 'SIGSTOP' ? 'stopped (SIGSTOP)' : 'continued (SIGCONT)'}`);
}

function cmdStatus(dir, o) {
  const c = readCluster(dir);
  const etcd = procState(c.etcdPid, etcdMarker(c));
  const nodes = Object.fromEntries(c.nodes.map((n) => [n.name, procState(n.pid, nodeMarker(n))]));
  const all = etcd === 'running' && Object.values(nodes).every((s) => s === 'running');
  if (o.json) {
    console.log(JSON.stringify({ ...c, alive: { etcd, nodes } }, null, 2));
  } else {
    console.log(JSON.stringify(c, null, 2));
    console.log(`etcd  pid ${c.etcdPid}: ${etcd}`);
    for (const n of c.nodes) console.log(`${n.name}     pid ${n.pid}: ${nodes[n.name]}  ${n.url ?? ''}`);
  }
  return all ? 0 : 3;
}

// ---------------------------------------------------------------------------------------------

const OPTIONS = {
  dir: { type: 'string' },
  nodes: { type: 'string' },
  kind: { type: 'string' },
  size: { type: 'string' },
  'portal-base': { type: 'string' },
  standby: { type: 'boolean' },
  ttl: { type: 'string' },
  timeout: { type: 'string' },
  'log-level': { type: 'string' },
  json: { type: 'boolean' },
  insecure: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};
const ALLOWED = {
  up: ['dir', 'nodes', 'kind', 'size', 'portal-base', 'standby', 'ttl', 'timeout', 'log-level', 'insecure'],
  down: ['dir', 'timeout'],
  kill: ['dir'],
  start: ['dir', 'timeout', 'log-level'],
  'stop-etcd': ['dir'],
  'cont-etcd': ['dir'],
  status: ['dir', 'json'],
  endpoint: ['dir'],
  env: ['dir'],
  url: ['dir'],
};

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err.message.split('\n')[0].replace(/\. To specify a positional.*$/, ''));
  }
  const { values: o, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (o.help || command === 'help') {
    console.log(HELP);
    return 0;
  }
  if (command === undefined) throw new UsageError('no command');
  const allowed = ALLOWED[command];
  if (!allowed) throw new UsageError(`unknown command ${command} (try --help)`);
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new UsageError(`${command} takes no --${k}`);
  const wantsNode = command === 'kill' || command === 'start' || command === 'url';
  const mayNameNode = wantsNode || command === 'endpoint' || command === 'env';
  if (rest.length > (mayNameNode ? 1 : 0)) throw new UsageError(`unexpected argument ${rest[wantsNode ? 1 : 0]}`);
  if (wantsNode && rest.length === 0) throw new UsageError(`which node? e.g. \`${command} a --dir DIR\``);
  if (!o.dir) throw new UsageError(`${command} needs --dir DIR`);
  const dir = path.resolve(o.dir);

  const started = newStarted();
  const interrupted = () => {
    process.stderr.write(`${PROG}: interrupted: stopping what this command started\n`);
    void teardown(started).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    switch (command) {
      case 'up':
        await cmdUp(dir, o, started);
        return 0;
      case 'down':
        await cmdDown(dir, o);
        return 0;
      case 'kill':
        await cmdKill(dir, rest[0]);
        return 0;
      case 'start':
        await cmdStart(dir, rest[0], o, started);
        return 0;
      case 'stop-etcd':
        cmdEtcdSignal(dir, 'SIGSTOP');
        return 0;
      case 'cont-etcd':
        cmdEtcdSignal(dir, 'SIGCONT');
        return 0;
      case 'status':
        return cmdStatus(dir, o);
      case 'endpoint':
        return cmdEndpoint(dir, rest[0]);
      case 'env':
        return cmdEnv(dir, rest[0]);
      case 'url': {
        const n = findNode(readCluster(dir), rest[0]);
        if (!n.portal) throw new Failure(`node ${rest[0]} has never started`);
        console.log(`iscsi://${n.portal}/${TARGET}`);
        return 0;
      }
    }
  } catch (err) {
    if (started.etcd || started.nodes.size > 0) await teardown(started);
    throw err;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${PROG}: ${err.message}\nUsage: ${PROG} up|down|kill|start|stop-etcd|cont-etcd|status|endpoint|url … (--help)\n`);
      process.exit(2);
    }
    if (err instanceof Failure) {
      process.stderr.write(`${PROG}: ${err.message}\n`);
      if (err.detail) process.stderr.write(`${err.detail.replace(/^/gm, '  | ')}\n`);
      process.exit(1);
    }
    process.stderr.write(`${PROG}: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
