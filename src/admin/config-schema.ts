import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { parsePasswordHash } from '../security/basic-auth.js';
import { TandemError } from '../util/errors.js';
import { parseSize } from '../util/size.js';

const size = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:3260');

const iqn = z
  .string()
  .regex(
    /^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/,
    'expected an iSCSI name such as iqn.2026-11.org.example:disk',
  );

const lunSchema = z.object({
  lun: z.number().int().min(0).max(16383),
  backstore: z.enum(['file', 'memory']).default('file'),
  /** File or block device; relative paths are under node.dataDir. */
  path: z.string().optional(),
  size: size.optional(),
  blockSize: z.union([z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]).default(512),
  readOnly: z.boolean().default(false),
  /** Stable identity of the volume (NAA designator and serial derive from it). */
  volumeId: z.string().optional(),
});

/** RFC 7143 12.1.3 asks for secrets of at least 96 bits; 16 bytes is the common upper bound. */
const chapSecret = z.string().refine((s) => {
  const n = Buffer.byteLength(s, 'utf8');
  return n >= 12 && n <= 16;
}, 'a CHAP secret must be 12 to 16 bytes long (RFC 7143 12.1.3)');

const chapCredentials = z.object({
  user: z.string().min(1).max(255),
  secret: chapSecret,
});

/** Per target: CHAP the initiator must pass, and the target's own secret for mutual CHAP. */
const authSchema = z.object({
  chap: chapCredentials,
  mutualChap: chapCredentials.optional(),
});

const targetSchema = z.object({
  iqn,
  alias: z.string().max(255).optional(),
  luns: z.array(lunSchema).default([]),
  auth: authSchema.optional(),
  /** Initiator names allowed to log in; absent: every initiator. */
  acl: z.array(iqn).optional(),
  /** Per initiator: the only LUNs it sees (LUN masking); an initiator not listed sees all. */
  aclLuns: z.record(z.string(), z.array(z.number().int().min(0).max(16383))).optional(),
});

/**
 * Cluster mode (DESIGN.md Configuration): the node file names only what must exist before etcd
 * is reachable; targets, volumes and LUNs live in etcd under `prefix`.
 */
const etcdUrls = z
  .array(z.string().regex(/^https?:\/\/[^\s]+$/, 'expected an etcd URL such as https://127.0.0.1:2379'))
  .min(1);
/**
 * etcd with TLS and optionally a user (docs/security.md). Paths are under node.dataDir; absent
 * ca/cert/key default to the node's `tls:` files. The password is read from a 0600 file.
 */
const etcdTlsSchema = z.object({
  endpoints: etcdUrls,
  ca: z.string().min(1).optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
});

const clusterSchema = z.object({
  /** A list of URLs, or `{ endpoints, ca, cert, key, user, passwordFile }`. */
  etcd: z.union([etcdUrls, etcdTlsSchema]),
  prefix: z
    .string()
    .regex(/^\/[^\s]*$/, 'expected a key prefix such as /tandem/default')
    .default('/tandem/default'),
  leaseTtlSeconds: z.number().int().min(1).max(300).default(5),
  /** Command forwarding (and later replication) gRPC listener; port 0: the kernel picks one. */
  grpc: hostPort.default('127.0.0.1:0'),
});

const blockSize = z.union([z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]).default(512);

/** A volume as the cluster configuration (etcd `config/volumes/<id>`) holds it. */
export const volumeSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'expected a volume id such as vol0'),
  /** shared: one backing store every node opens; replicated: one per node, mirrored (issue #5). */
  kind: z.enum(['shared', 'replicated']).default('replicated'),
  size: size.optional(),
  blockSize,
  /** Backing file or block device; relative paths are under each node's dataDir. */
  path: z.string().optional(),
  /** Non-primary port groups report Standby instead of Active/Non-optimized with forwarding. */
  standby: z.boolean().default(false),
  readOnly: z.boolean().default(false),
  /** Replicated: the nodes holding a replica (absent: every node of the cluster). */
  replicas: z.array(z.string().min(1)).optional(),
  /**
   * Replicated: the fewest copies (the primary's included) that must be in sync for a write to be
   * accepted; with fewer, writes are refused (DATA PROTECT, 07h/27h/02h) and reads go on. Absent:
   * 1 (keep serving on the primary alone, as rule 1 allows).
   */
  minInSync: z.number().int().min(1).max(32).optional(),
  /** memory: in RAM, empty at every start (tests); absent: a file or block device. */
  backstore: z.enum(['file', 'memory']).optional(),
  /** The identity seed asked for (the NAA designator and serial derive from it); absent: the cluster's. */
  identity: z.string().min(1).optional(),
  /** Replicated: resync rate limit in MiB/s (0: unlimited); absent: the cluster's (settings/cluster). */
  resyncRateMiBps: z.number().min(0).optional(),
});

/** Cluster-wide settings (etcd `config/settings/cluster`), changeable live. */
export const clusterSettingsSchema = z.object({
  /** Resync rate limit of every replicated volume without its own, in MiB/s (0 or absent: unlimited). */
  resyncRateMiBps: z.number().min(0).optional(),
});
export const CLUSTER_SETTINGS_NAME = 'cluster';

/** A target in the cluster configuration: like the node file's, with LUNs kept apart (`luns`). */
export const clusterTargetSchema = z.object({
  iqn,
  alias: z.string().max(255).optional(),
  auth: authSchema.optional(),
  /** Initiator names allowed to log in; absent: every initiator. */
  acl: z.array(iqn).optional(),
  /** Per initiator: the only LUNs it sees (LUN masking); an initiator not listed sees all. */
  aclLuns: z.record(z.string(), z.array(z.number().int().min(0).max(16383))).optional(),
});
export const clusterLunSchema = z.object({
  target: iqn,
  lun: z.number().int().min(0).max(16383),
  volume: z.string().min(1),
});

/** Written to etcd by the first node that finds no configuration there. */
const bootstrapSchema = z.object({
  targets: z.array(clusterTargetSchema).default([]),
  volumes: z.array(volumeSchema).default([]),
  luns: z.array(clusterLunSchema).default([]),
});

/**
 * The node's TLS material for every cluster channel (node to node, admin API, and the default for
 * etcd): PEM files, relative paths under node.dataDir. `ca` may hold several CA certificates
 * (rotation: a bundle with the old and the new CA, then re-issue, then drop the old).
 */
const tlsSchema = z.object({
  ca: z.string().min(1),
  cert: z.string().min(1),
  key: z.string().min(1),
});

/**
 * The Prometheus endpoint, with the exporter-toolkit's web options under Tandem's key style
 * (docs/security.md): `tls` = cert/key (and `clientCa`: then a client certificate from it is
 * required), `basicAuth` = user → scrypt hash (src/security/basic-auth.ts). Both off by default:
 * plain HTTP, for a loopback or management-network listener.
 */
const metricsSchema = z.object({
  listen: hostPort,
  tls: z
    .object({ cert: z.string().min(1), key: z.string().min(1), clientCa: z.string().min(1).optional() })
    .optional(),
  basicAuth: z
    .record(
      z.string().regex(/^[^:\s]+$/, 'a user name without ":" or spaces'),
      z.string().superRefine((v, ctx) => {
        try {
          parsePasswordHash(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
    )
    .optional(),
});

/**
 * Caps on what initiators can make the node hold (DESIGN.md "Trust"; src/iscsi/limits.ts).
 * Past a connection cap the TCP connection is closed at accept; past the session cap the login
 * fails with OUT OF RESOURCES; past the command cap a command gets TASK SET FULL; past a memory
 * budget a connection stops dispatching new commands until memory frees.
 */
const iscsiLimitsSchema = z.object({
  /** TCP connections from one source address (a host has a few per path). */
  connectionsPerSource: z.number().int().min(1).default(64),
  /** TCP connections in total, logged in or not. */
  connections: z.number().int().min(1).default(1024),
  /** Connections that have not finished login (the login timeout ends them). */
  connectionsInLogin: z.number().int().min(1).default(128),
  /** Sessions one initiator name may have open on this node. */
  sessionsPerInitiator: z.number().int().min(1).default(64),
  /** Commands one session may have outstanding; past it: TASK SET FULL. */
  commandsPerSession: z.number().int().min(1).max(65536).default(128),
  /** Memory one connection may hold: data-out, Data-In, waiting commands (e.g. 32M). */
  connectionBudget: size.default(32 << 20),
  /** Memory all connections together may hold (e.g. 512M). */
  nodeBudget: size.default(512 << 20),
});

const ISCSI_LIMITS_DEFAULT = {
  connectionsPerSource: 64,
  connections: 1024,
  connectionsInLogin: 128,
  sessionsPerInitiator: 64,
  commandsPerSession: 128,
  connectionBudget: 32 << 20,
  nodeBudget: 512 << 20,
};

export const nodeConfigSchema = z.object({
  node: z
    .object({
      name: z.string().default('tandem-1'),
      dataDir: z.string().default('./data'),
    })
    .default({ name: 'tandem-1', dataDir: './data' }),
  portals: z.array(hostPort).min(1).default(['127.0.0.1:3260']),
  iscsi: z
    .object({
      nopInIntervalSeconds: z.number().min(0).default(15),
      nopInTimeoutSeconds: z.number().min(1).default(30),
      commandWindow: z.number().int().min(1).max(1024).default(128),
      maxRecvDataSegmentLength: z.number().int().min(512).max(16777215).default(262144),
      limits: iscsiLimitsSchema.default(ISCSI_LIMITS_DEFAULT),
    })
    .default({
      nopInIntervalSeconds: 15,
      nopInTimeoutSeconds: 30,
      commandWindow: 128,
      maxRecvDataSegmentLength: 262144,
      limits: ISCSI_LIMITS_DEFAULT,
    }),
  targets: z.array(targetSchema).default([]),
  /** CHAP for discovery (SendTargets) sessions. */
  discoveryAuth: z
    .object({ chap: chapCredentials.optional(), mutualChap: chapCredentials.optional() })
    .optional(),
  cluster: clusterSchema.optional(),
  /**
   * Admin gRPC API (tandemctl). Default 127.0.0.1:7070, tandemctl's default endpoint; `off`
   * disables it. Mutual TLS with the node's certificate and a role check on every call; plaintext
   * only with `insecure: true` (docs/security.md).
   */
  admin: z.object({ listen: z.union([hostPort, z.literal('off')]) }).default({ listen: '127.0.0.1:7070' }),
  /** Prometheus `/metrics` endpoint (absent: off); `tls` and `basicAuth`: see metricsSchema. */
  metrics: metricsSchema.optional(),
  bootstrap: bootstrapSchema.optional(),
  /**
   * Backing paths outside node.dataDir that a volume of the cluster configuration may name
   * (DESIGN.md Trust): absolute, each admitted exactly (a block device, a shared image); one
   * ending in `/` admits everything below that directory. Any other path is refused.
   */
  allowedDevices: z
    .array(z.string().refine((p) => path.isAbsolute(p), 'expected an absolute path such as /dev/sdb'))
    .default([]),
  tls: tlsSchema.optional(),
  /**
   * Plaintext on the cluster channels (node to node, admin API, etcd): only for loopback
   * development, and only when asked for in so many words; logged as a warning at start and
   * shown in `tandemctl status`.
   */
  insecure: z.boolean().default(false),
});

export type NodeConfig = z.infer<typeof nodeConfigSchema>;
export type LunConfig = z.infer<typeof lunSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type EtcdConfig = ClusterConfig['etcd'];
export type VolumeConfig = z.infer<typeof volumeSchema>;
export type ClusterSettings = z.infer<typeof clusterSettingsSchema>;
export type ClusterTargetConfig = z.infer<typeof clusterTargetSchema>;
export type ClusterLunConfig = z.infer<typeof clusterLunSchema>;
export type AuthSettings = z.infer<typeof authSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;
export type MetricsConfig = z.infer<typeof metricsSchema>;
export type IscsiLimitsConfig = z.infer<typeof iscsiLimitsSchema>;

export const DEMO_TARGET = 'iqn.2026-11.org.tandem:demo';

/** Embedded quick-start: one target, LUN 0 on a sparse 1 GiB file under ./data. */
export function embeddedDefaults(): NodeConfig {
  return nodeConfigSchema.parse({
    targets: [
      {
        iqn: DEMO_TARGET,
        alias: 'demo',
        luns: [{ lun: 0, backstore: 'file', path: 'lun0.img', size: '1G' }],
      },
    ],
  });
}

export function parseNodeConfig(text: string, source: string): NodeConfig {
  let raw: unknown;
  try {
    raw = YAML.parse(text) ?? {};
  } catch (err) {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `${source}: not valid YAML: ${(err as Error).message}`,
    );
  }
  const r = nodeConfigSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0]!;
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `${source}: ${first.path.join('.') || '(top level)'}: ${first.message}`,
    );
  }
  const cfg = r.data;
  if (cfg.cluster && cfg.targets.length > 0) {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `${source}: targets: in cluster mode targets, volumes and LUNs live in etcd (use bootstrap:)`,
    );
  }
  if (cfg.bootstrap && !cfg.cluster) {
    throw new TandemError('TANDEM_ERR_CONFIG_INVALID', `${source}: bootstrap: needs a cluster: section`);
  }
  const checkAuth = (where: string, a: { chap?: { secret: string }; mutualChap?: { secret: string } }) => {
    if (a.mutualChap && !a.chap) {
      throw new TandemError('TANDEM_ERR_CONFIG_INVALID', `${source}: ${where}: mutualChap needs chap`);
    }
    // RFC 7143 12.1.3: a secret used to authenticate initiators must not authenticate targets.
    if (a.mutualChap && a.chap && a.mutualChap.secret === a.chap.secret) {
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        `${source}: ${where}: chap and mutualChap must use different secrets`,
      );
    }
  };
  if (cfg.discoveryAuth) checkAuth('discoveryAuth', cfg.discoveryAuth);
  for (const t of cfg.targets) {
    if (t.auth) checkAuth(`${t.iqn} auth`, t.auth);
    const seen = new Set<number>();
    for (const l of t.luns) {
      if (seen.has(l.lun))
        throw new TandemError('TANDEM_ERR_CONFIG_INVALID', `${source}: ${t.iqn}: LUN ${l.lun} twice`);
      seen.add(l.lun);
      if (l.backstore === 'memory' && !l.size) {
        throw new TandemError(
          'TANDEM_ERR_CONFIG_INVALID',
          `${source}: ${t.iqn} LUN ${l.lun}: a memory LU needs a size`,
        );
      }
      if (l.backstore === 'file' && !l.path) {
        throw new TandemError(
          'TANDEM_ERR_CONFIG_INVALID',
          `${source}: ${t.iqn} LUN ${l.lun}: a file LU needs a path`,
        );
      }
    }
  }
  return cfg;
}

export function loadNodeConfig(file: string): NodeConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new TandemError('TANDEM_ERR_CONFIG_INVALID', `cannot read ${file}: ${(err as Error).message}`);
  }
  const cfg = parseNodeConfig(text, file);
  // Relative data directories are relative to the config file, not to the working directory.
  cfg.node.dataDir = path.resolve(path.dirname(file), cfg.node.dataDir);
  return cfg;
}
