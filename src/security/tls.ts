import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { identityOfCertificate } from './peer-identity.js';

/** The node file's `tls:` keys: PEM files, relative paths under node.dataDir. */
export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** The node's TLS material, read once at start. */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

const invalid = (msg: string) => new TandemError('TANDEM_ERR_CONFIG_INVALID', msg);

function readPem(dataDir: string, key: string, file: string): { file: string; data: Buffer } {
  const p = path.resolve(dataDir, file);
  try {
    return { file: p, data: fs.readFileSync(p) };
  } catch (err) {
    throw invalid(
      `${key}: cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * Reads and checks `files` (under `dataDir`): the CA bundle parses, the key belongs to the
 * certificate, and a CA of the bundle signed it. Every failure names the key and the file, so a
 * misplaced file is one error at start rather than a handshake failure on every call later.
 */
export function loadTls(files: TlsFiles, dataDir: string, where = 'tls'): TlsMaterial {
  const ca = readPem(dataDir, `${where}.ca`, files.ca);
  const cert = readPem(dataDir, `${where}.cert`, files.cert);
  const key = readPem(dataDir, `${where}.key`, files.key);
  let cas: X509Certificate[];
  try {
    cas = pemBlocks(ca.data.toString('utf8')).map((b) => new X509Certificate(b));
  } catch (err) {
    throw invalid(`${where}.ca: ${ca.file}: not a PEM certificate: ${(err as Error).message}`);
  }
  if (cas.length === 0) throw invalid(`${where}.ca: ${ca.file}: no PEM certificate in it`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert.data);
  } catch (err) {
    throw invalid(`${where}.cert: ${cert.file}: not a PEM certificate: ${(err as Error).message}`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key.data);
  } catch (err) {
    throw invalid(`${where}.key: ${key.file}: not a PEM private key: ${(err as Error).message}`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw invalid(`${where}.key: ${key.file} is not the key of ${where}.cert ${cert.file}`);
  }
  if (!cas.some((c) => leaf.checkIssued(c) && leaf.verify(c.publicKey))) {
    throw invalid(`${where}.cert: ${cert.file} is not signed by a CA in ${where}.ca ${ca.file}`);
  }
  return { ca: ca.data, cert: cert.data, key: key.data };
}

/**
 * Credentials of the node-to-node gRPC channels (forwarding and replication): mutual TLS from
 * the cluster CA, or plaintext when the node file says `insecure: true`.
 */
export interface PeerSecurity {
  readonly secure: boolean;
  serverCredentials(): grpc.ServerCredentials;
  /** For dialing `node`: the server must present node `node`'s certificate. */
  channelCredentials(node: string): grpc.ChannelCredentials;
}

/** The server certificate is the dialed node's own (CN = its name, OU = node), nothing else. */
export function checkPeerNode(node: string, cert: PeerCertificate): Error | undefined {
  const id = identityOfCertificate(cert);
  if (id?.kind === 'node' && id.name === node) return undefined;
  return new Error(
    `peer certificate is ${id ? `${id.kind} ${id.name}` : 'not a Tandem certificate'}, expected node ${node}`,
  );
}

export function tlsPeerSecurity(m: TlsMaterial): PeerSecurity {
  const channels = new Map<string, grpc.ChannelCredentials>();
  return {
    secure: true,
    // checkClientCertificate: a handshake without a certificate from the CA is refused.
    serverCredentials: () =>
      grpc.ServerCredentials.createSsl(m.ca, [{ cert_chain: m.cert, private_key: m.key }], true),
    channelCredentials: (node) => {
      let c = channels.get(node);
      if (!c) {
        // Peers are dialed by address (often an IP), not by name: the name check replaces the
        // host-name check (the chain is still verified against the CA by TLS).
        c = grpc.credentials.createSsl(m.ca, m.key, m.cert, {
          checkServerIdentity: (_host, cert) => checkPeerNode(node, cert),
        });
        channels.set(node, c);
      }
      return c;
    },
  };
}

export const INSECURE_PEERS: PeerSecurity = {
  secure: false,
  serverCredentials: () => grpc.ServerCredentials.createInsecure(),
  channelCredentials: () => grpc.credentials.createInsecure(),
};

/** The node file fields this module reads. */
export interface NodeTlsSettings {
  readonly node: { readonly dataDir: string };
  readonly tls?: TlsFiles | undefined;
  readonly insecure: boolean;
}

/**
 * A cluster node's peer channels. DESIGN.md Trust: plaintext only when asked for in so many
 * words; neither `tls` nor `insecure: true` is a configuration error, not a silent default.
 */
export function clusterPeerSecurity(cfg: NodeTlsSettings, log: Logger): PeerSecurity {
  if (cfg.tls) return tlsPeerSecurity(loadTls(cfg.tls, cfg.node.dataDir));
  if (cfg.insecure) {
    log.warn(
      { insecure: true },
      'insecure: true: node-to-node channels are plaintext and unauthenticated (loopback development only)',
    );
    return INSECURE_PEERS;
  }
  throw invalid(
    'tls: a cluster node needs tls: {ca, cert, key} (see docs/security.md), or insecure: true for plaintext on loopback',
  );
}

/** The node file's `cluster.etcd`, either form. */
export type EtcdSettings =
  | readonly string[]
  | {
      readonly endpoints: readonly string[];
      readonly ca?: string | undefined;
      readonly cert?: string | undefined;
      readonly key?: string | undefined;
      readonly user?: string | undefined;
      readonly passwordFile?: string | undefined;
    };

/** What the etcd3 client takes (its IOptions `credentials` and `auth`). */
export interface EtcdClientSettings {
  readonly endpoints: readonly string[];
  readonly credentials?: { rootCertificate: Buffer; certChain?: Buffer; privateKey?: Buffer };
  readonly auth?: { username: string; password: string };
}

function readPassword(dataDir: string, file: string): string {
  const p = path.resolve(dataDir, file);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (err) {
    throw invalid(`cluster.etcd.passwordFile: cannot read ${p}: ${(err as NodeJS.ErrnoException).code}`);
  }
  // Like ssh with a private key: a secret others can read is refused, not used.
  if ((st.mode & 0o077) !== 0) {
    throw invalid(
      `cluster.etcd.passwordFile: ${p} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`,
    );
  }
  return fs.readFileSync(p, 'utf8').replace(/\r?\n$/, '');
}

/**
 * The etcd client's endpoints, TLS and auth. https endpoints use the CA and client certificate
 * from `cluster.etcd`, each defaulting to the node's `tls:` file.
 */
export function etcdClientSettings(
  etcd: EtcdSettings,
  cfg: NodeTlsSettings,
  log: Logger,
): EtcdClientSettings {
  const e = Array.isArray(etcd)
    ? { endpoints: etcd as readonly string[] }
    : (etcd as Exclude<EtcdSettings, readonly string[]>);
  const o = e as Exclude<EtcdSettings, readonly string[]>;
  const https = e.endpoints.some((u) => u.startsWith('https:'));
  const dir = cfg.node.dataDir;
  let credentials: EtcdClientSettings['credentials'];
  if (https) {
    const ca = o.ca ?? cfg.tls?.ca;
    if (!ca) throw invalid('cluster.etcd.ca: https etcd endpoints need a CA (cluster.etcd.ca or tls.ca)');
    const cert = o.cert ?? cfg.tls?.cert;
    const key = o.key ?? cfg.tls?.key;
    if ((cert === undefined) !== (key === undefined)) {
      throw invalid('cluster.etcd: give both cert and key (or neither)');
    }
    credentials = {
      rootCertificate: readPem(dir, o.ca ? 'cluster.etcd.ca' : 'tls.ca', ca).data,
      ...(cert && key
        ? {
            certChain: readPem(dir, o.cert ? 'cluster.etcd.cert' : 'tls.cert', cert).data,
            privateKey: readPem(dir, o.key ? 'cluster.etcd.key' : 'tls.key', key).data,
          }
        : {}),
    };
  } else if (!cfg.insecure) {
    log.warn({ endpoints: e.endpoints }, 'cluster.etcd: plaintext (http://) etcd endpoints: use https');
  }
  if ((o.user === undefined) !== (o.passwordFile === undefined)) {
    throw invalid('cluster.etcd: user and passwordFile go together');
  }
  const auth =
    o.user && o.passwordFile ? { username: o.user, password: readPassword(dir, o.passwordFile) } : undefined;
  return { endpoints: e.endpoints, ...(credentials ? { credentials } : {}), ...(auth ? { auth } : {}) };
}
