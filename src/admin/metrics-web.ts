import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import {
  hashPassword,
  type PasswordHash,
  parsePasswordHash,
  verifyPassword,
} from '../security/basic-auth.js';
import { TandemError } from '../util/errors.js';

/**
 * The Prometheus endpoint's web options, in the style of the Prometheus exporter-toolkit's web
 * configuration (tls_server_config, basic_auth_users), under the node file's `metrics:` keys:
 *
 *   metrics:
 *     listen: 10.0.0.11:9464
 *     tls: { cert: tls/node-a.crt, key: tls/node-a.key, clientCa: tls/ca.crt }
 *     basicAuth: { prometheus: "$scrypt$ln=15,r=8,p=1$…$…" }
 *
 * Paths are relative to node.dataDir. With `clientCa` a client certificate signed by it is
 * required (exporter-toolkit's RequireAndVerifyClientCert). Both off by default.
 */
export interface MetricsWebConfig {
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string | undefined };
  readonly basicAuth?: Readonly<Record<string, string>>;
}

/** The options read and checked once at start. */
export interface MetricsWeb {
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa?: Buffer };
  readonly users?: ReadonlyMap<string, PasswordHash>;
}

const invalid = (msg: string) => new TandemError('TANDEM_ERR_CONFIG_INVALID', msg);

function read(dataDir: string, key: string, file: string): Buffer {
  const p = path.resolve(dataDir, file);
  try {
    return fs.readFileSync(p);
  } catch (err) {
    throw invalid(
      `${key}: cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Reads the files and hashes of `cfg`; every failure names the key. */
export function loadMetricsWeb(cfg: MetricsWebConfig, dataDir: string): MetricsWeb {
  let tls: MetricsWeb['tls'];
  if (cfg.tls) {
    const cert = read(dataDir, 'metrics.tls.cert', cfg.tls.cert);
    const key = read(dataDir, 'metrics.tls.key', cfg.tls.key);
    try {
      if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) {
        throw new Error('the key is not the certificate’s');
      }
    } catch (err) {
      throw invalid(`metrics.tls: ${cfg.tls.cert} / ${cfg.tls.key}: ${(err as Error).message}`);
    }
    tls = {
      cert,
      key,
      ...(cfg.tls.clientCa ? { clientCa: read(dataDir, 'metrics.tls.clientCa', cfg.tls.clientCa) } : {}),
    };
  }
  let users: Map<string, PasswordHash> | undefined;
  if (cfg.basicAuth) {
    users = new Map();
    for (const [user, hash] of Object.entries(cfg.basicAuth)) {
      try {
        users.set(user, parsePasswordHash(hash));
      } catch (err) {
        throw invalid(`metrics.basicAuth.${user}: ${(err as Error).message}`);
      }
    }
    if (users.size === 0) throw invalid('metrics.basicAuth: no user (omit the key to turn basic auth off)');
  }
  return { ...(tls ? { tls } : {}), ...(users ? { users } : {}) };
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** At most this many password checks (each one scrypt, ~32 MiB) run at once; more get 503. */
const MAX_CHECKS = 4;
/** Digests of credentials that verified: a scrape every few seconds must not cost a scrypt. */
const CACHE_MAX = 64;

/**
 * `handler` behind HTTP basic auth (RFC 7617): 401 with a challenge without or with wrong
 * credentials. An unknown user costs the same scrypt as a known one (no user enumeration by time).
 */
export function withBasicAuth(users: ReadonlyMap<string, PasswordHash>, handler: Handler): Handler {
  const verified = new Set<string>();
  let checking = 0;
  let dummy: Promise<PasswordHash> | undefined;
  const unauthorized = (res: http.ServerResponse) =>
    res
      .writeHead(401, {
        'content-type': 'text/plain',
        'www-authenticate': 'Basic realm="tandem metrics", charset="UTF-8"',
      })
      .end('unauthorized\n');
  return (req, res) => {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      unauthorized(res);
      return;
    }
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const digest = createHash('sha256').update(decoded).digest('hex');
    if (verified.has(digest)) {
      handler(req, res);
      return;
    }
    if (checking >= MAX_CHECKS) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('busy\n');
      return;
    }
    checking++;
    const known = users.get(user);
    const check = known
      ? verifyPassword(password, known)
      : (dummy ??= hashPassword('not a password').then(parsePasswordHash))
          .then((h) => verifyPassword(password, h))
          .then(() => false);
    check.then(
      (ok) => {
        checking--;
        if (!ok) {
          unauthorized(res);
          return;
        }
        if (verified.size >= CACHE_MAX) verified.clear();
        verified.add(digest);
        handler(req, res);
      },
      () => {
        checking--;
        unauthorized(res);
      },
    );
  };
}

/** An HTTP or, with `web.tls`, HTTPS server running `handler` behind `web`'s auth. */
export function createMetricsServer(web: MetricsWeb, handler: Handler): http.Server {
  const h = web.users ? withBasicAuth(web.users, handler) : handler;
  if (!web.tls) return http.createServer(h);
  const { cert, key, clientCa } = web.tls;
  return https.createServer(
    {
      cert,
      key,
      minVersion: 'TLSv1.2',
      // clientCa: a client certificate from it is required; without, none is asked for.
      ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    },
    h,
  );
}

/** Whether HOST (of metrics.listen) is a loopback address. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
