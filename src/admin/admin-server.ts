import * as grpc from '@grpc/grpc-js';
import { CONFIG_KINDS, type ConfigKind, type JsonValue } from '../cluster/coordinator.js';
import { authorizeAdminCall } from '../security/admin-auth.js';
import { identityOf } from '../security/peer-identity.js';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { shutdownServer } from '../util/proto.js';
import type { AdminBackend, ClusterStatus, NodeStatus, SessionInfo } from './admin-backend.js';
import { type AdminListener, type AdminTlsMaterial, listenAdminTls } from './admin-listener.js';
import {
  adminPackage,
  type ClusterStatusMsg,
  type ConfigEntryMsg,
  type DeleteConfigRequest,
  type ImportConfigResponse,
  type ListConfigResponse,
  type NodeStatusMsg,
  type PutConfigRequest,
  type SessionMsg,
  type SwitchoverResponse,
  statusAnswer,
  toServiceError,
  type VerifyMessage,
} from './admin-proto.js';
import {
  diffConfig,
  exportDocument,
  importDocument,
  resolveSecrets,
  SECRET_PLACEHOLDER,
  validateEntry,
} from './config-document.js';
import { recoveryMsg } from './recovery-msg.js';

/** DESIGN.md "Trust": a read reply never carries a CHAP secret (same keys as the export's redaction). */
function hideSecrets(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(hideSecrets);
  if (v === null || typeof v !== 'object') return v;
  const out: { [key: string]: JsonValue } = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] =
      (k === 'secret' || k.endsWith('Secret')) && typeof x === 'string' ? SECRET_PLACEHOLDER : hideSecrets(x);
  }
  return out;
}

type Handler<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => void;

const sessionMsg = (s: SessionInfo): SessionMsg => ({
  node: s.node,
  initiator: s.initiator,
  isid: s.isid,
  target: s.target,
  portal: s.portal,
  sinceMs: s.since,
  connections: s.connections,
});

export function nodeStatusMsg(s: NodeStatus): NodeStatusMsg {
  return {
    name: s.name,
    mode: s.mode,
    portals: s.portals,
    admin: s.admin,
    grpc: s.grpc,
    upSinceMs: s.upSince,
    volumes: s.volumes.map((v) => ({
      id: v.id,
      role: v.role,
      aluaState: v.aluaState,
      epoch: v.epoch,
      size: v.size,
      replication: v.replication
        ? {
            inSync: v.replication.inSync,
            peers: v.replication.peers,
            resyncDoneBytes: v.replication.resyncDone,
            resyncTotalBytes: v.replication.resyncTotal,
          }
        : null,
      recovery: v.recovery ? recoveryMsg(v.recovery) : null,
    })),
    sessions: s.sessions.map(sessionMsg),
  };
}

export function clusterStatusMsg(s: ClusterStatus): ClusterStatusMsg {
  return {
    mode: s.mode,
    node: s.node,
    nodes: s.nodes.map((n) => ({ ...n, upSinceMs: n.upSince })),
    volumes: s.volumes.map((v) => ({
      id: v.id,
      kind: v.kind,
      size: v.size,
      replicas: v.replicas,
      inSync: v.inSync,
      primary: v.primary,
      epoch: v.epoch,
      portGroups: v.portGroups,
      resyncDoneBytes: v.resyncDone,
      resyncTotalBytes: v.resyncTotal,
      luns: v.luns,
      replicaStates: v.replicaStates,
      recovery: (v.recovery ?? []).map(recoveryMsg),
      resyncPeers: v.resyncPeers ?? [],
    })),
    sessions: s.sessions.map(sessionMsg),
    warnings: s.warnings,
  };
}

const badArgument = (message: string) => new TandemError('TANDEM_ERR_CLUSTER_INVALID_ARGUMENT', message);

function configKind(kind: string): ConfigKind {
  if (!(CONFIG_KINDS as readonly string[]).includes(kind)) {
    throw badArgument(`unknown config kind "${kind}" (expected ${CONFIG_KINDS.join(', ')})`);
  }
  return kind as ConfigKind;
}

function parseJson(kind: string, name: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw badArgument(`${kind}/${name}: value is not JSON: ${(err as Error).message}`);
  }
}

export interface AdminServiceOptions {
  /**
   * Every call must come with a client certificate from the cluster CA whose role allows it
   * (security/admin-auth.ts). False only for a node with `insecure: true` (plaintext).
   */
  readonly authenticate: boolean;
}

/** The warning a plaintext node adds to every Status reply (issue 12: shown in tandemctl status). */
export const INSECURE_WARNING =
  'insecure: true: the admin API and node-to-node channels are plaintext and unauthenticated (loopback development only)';

/**
 * The authorization of one call, before its handler runs: undefined when it may proceed, else
 * the status to answer (UNAUTHENTICATED without a certificate, PERMISSION_DENIED for a role
 * that does not allow it), with a one-line message.
 */
function refusal(
  rpc: string,
  call: { request: unknown; getAuthContext: grpc.ServerUnaryCall<unknown, unknown>['getAuthContext'] },
  opts: AdminServiceOptions,
): grpc.StatusObject | undefined {
  if (!opts.authenticate) return undefined;
  const d = authorizeAdminCall(rpc, call.request, identityOf(call));
  if (d.ok) return undefined;
  return {
    code: d.code === 'unauthenticated' ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED,
    details: d.message,
    metadata: new grpc.Metadata(),
  };
}

/**
 * Adds the Admin service to `server`: each RPC calls `backend` and maps what it throws to a gRPC
 * status with the TANDEM_ERR code in metadata (admin-proto.ts toServiceError).
 */
export function addAdminService(
  server: grpc.Server,
  backend: AdminBackend,
  logger: Logger,
  opts: AdminServiceOptions = { authenticate: false },
): void {
  const log = logger.child({ component: 'admin' });
  /**
   * One unary handler: authorizes the call, runs `fn`, answers with its value or its error
   * (logged at debug/warn).
   */
  const unary =
    <Req, Res>(rpc: string, fn: (req: Req) => Promise<Res>): Handler<Req, Res> =>
    (call, cb) => {
      const refused = refusal(rpc, call, opts);
      if (refused) {
        log.info({ rpc, code: refused.code, peer: call.getPeer() }, `admin call refused: ${refused.details}`);
        cb(refused);
        return;
      }
      Promise.resolve()
        .then(() => fn(call.request))
        .then(
          (res) => cb(null, res),
          (err: unknown) => {
            const e = toServiceError(err);
            if (e.code === grpc.status.INTERNAL) log.warn({ err, rpc }, 'admin call failed');
            else log.debug({ rpc, code: e.code, details: e.details }, 'admin call refused');
            cb(e);
          },
        );
    };

  const readEntries = async () => {
    const { revision, entries } = await backend.readConfig();
    return { revision, entries: entries.map((e) => ({ kind: e.kind, name: e.name, value: e.value })) };
  };

  server.addService(adminPackage().Admin.service, {
    Status: unary('Status', async () => {
      const msg = clusterStatusMsg(await backend.clusterStatus());
      return opts.authenticate
        ? msg
        : { ...msg, warnings: [...msg.warnings, `${msg.node}: ${INSECURE_WARNING}`] };
    }),
    NodeStatus: unary('NodeStatus', async () => nodeStatusMsg(await backend.nodeStatus())),
    ListConfig: unary('ListConfig', async (req: { kind: string }): Promise<ListConfigResponse> => {
      const kind = req.kind === '' ? undefined : configKind(req.kind);
      const { revision, entries } = await backend.readConfig();
      return {
        revision,
        entries: entries
          .filter((e) => kind === undefined || e.kind === kind)
          .map((e) => ({
            kind: e.kind,
            name: e.name,
            valueJson: JSON.stringify(hideSecrets(e.value)),
            revision: e.revision,
          })),
      };
    }),
    GetConfig: unary('GetConfig', async (req: { kind: string; name: string }): Promise<ConfigEntryMsg> => {
      const kind = configKind(req.kind);
      const { entries } = await backend.readConfig();
      const e = entries.find((x) => x.kind === kind && x.name === req.name);
      if (!e) {
        throw statusAnswer(grpc.status.NOT_FOUND, `no ${kind}/${req.name}`);
      }
      return {
        kind: e.kind,
        name: e.name,
        valueJson: JSON.stringify(hideSecrets(e.value)),
        revision: e.revision,
      };
    }),
    PutConfig: unary('PutConfig', async (req: PutConfigRequest) => {
      const kind = configKind(req.kind);
      // A read-modify-write (tandemctl acl add …) sends back the placeholder it read: keep the stored secret.
      const { entries } = await backend.readConfig();
      const [resolved] = resolveSecrets(
        [{ kind, name: req.name, value: parseJson(kind, req.name, req.valueJson) }],
        entries,
        'PutConfig',
      );
      const value = resolved!.value;
      validateEntry(kind, req.name, value);
      return { revision: await backend.putConfig(kind, req.name, value, req.expectedRevision) };
    }),
    DeleteConfig: unary('DeleteConfig', async (req: DeleteConfigRequest) => ({
      deleted: await backend.deleteConfig(configKind(req.kind), req.name, req.expectedRevision),
    })),
    ExportConfig: unary('ExportConfig', async (req: { showSecrets: boolean }) => {
      const { revision, entries } = await readEntries();
      const yaml = exportDocument(entries, {
        showSecrets: req.showSecrets,
        comment:
          `Tandem cluster configuration, revision ${revision}${req.showSecrets ? '' : ' (CHAP secrets hidden)'}.\n` +
          'Restore with: tandemctl config import FILE',
      });
      return { yaml, revision };
    }),
    ImportConfig: unary(
      'ImportConfig',
      async (req: { yaml: string; dryRun: boolean }): Promise<ImportConfigResponse> => {
        const { revision, entries: current } = await readEntries();
        const next = importDocument(req.yaml, current);
        const diff = diffConfig(current, next);
        if (!req.dryRun) {
          await backend.replaceConfig(next, revision);
          log.info(
            { added: diff.added.length, changed: diff.changed.length, removed: diff.removed.length },
            'configuration imported',
          );
        }
        return { ...diff, applied: !req.dryRun };
      },
    ),
    Switchover: unary(
      'Switchover',
      async (req: { volume: string; to: string }): Promise<SwitchoverResponse> =>
        backend.switchover(req.volume, req.to === '' ? undefined : req.to),
    ),
    Metrics: unary('Metrics', async () => ({ text: await backend.metricsText() })),
    Verify: (call: grpc.ServerWritableStream<{ volume: string }, VerifyMessage>) => {
      const refused = refusal('Verify', call, opts);
      if (refused) {
        log.info(
          { rpc: 'Verify', code: refused.code, peer: call.getPeer() },
          `admin call refused: ${refused.details}`,
        );
        call.emit('error', refused);
        return;
      }
      let open = true;
      call.on('cancelled', () => {
        open = false;
      });
      const send = (m: VerifyMessage) => {
        if (open) call.write(m);
      };
      // The first message tells the client the call has started (it waits for nothing longer).
      send({ progress: { doneBytes: 0, totalBytes: 0 } });
      backend
        .verify(call.request.volume, (done, total) =>
          send({ progress: { doneBytes: done, totalBytes: total } }),
        )
        .then(
          (r) => {
            send({ result: r });
            if (open) call.end();
          },
          (err: unknown) => {
            if (!open) return;
            const e = toServiceError(err);
            if (e.code === grpc.status.INTERNAL) log.warn({ err, rpc: 'Verify' }, 'admin call failed');
            call.emit('error', e);
          },
        );
    },
  });
}

export interface AdminServerOptions {
  /**
   * TLS with client certificates from `tls.ca`, the node's own certificate as the server's; every
   * call is authorized by its certificate's role. Absent: plaintext without authentication
   * (a node with `insecure: true`; unit tests).
   */
  readonly tls?: AdminTlsMaterial | undefined;
}

/** The admin API on its own listener (a node's admin address). */
export class AdminServer {
  readonly #server: grpc.Server;
  readonly #listener: AdminListener | undefined;
  readonly secure: boolean;
  host = '';
  port = 0;

  private constructor(server: grpc.Server, listener: AdminListener | undefined, secure: boolean) {
    this.#server = server;
    this.#listener = listener;
    this.secure = secure;
  }

  /** Listens on HOST:PORT (port 0: the kernel picks one; see `address`). */
  static async listen(
    hostPort: string,
    backend: AdminBackend,
    logger: Logger,
    opts: AdminServerOptions = {},
  ): Promise<AdminServer> {
    const server = new grpc.Server();
    addAdminService(server, backend, logger, { authenticate: opts.tls !== undefined });
    const host = hostPort.slice(0, hostPort.lastIndexOf(':'));
    let self: AdminServer;
    if (opts.tls) {
      const listener = await listenAdminTls(
        server,
        host,
        Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)),
        opts.tls,
        logger.child({ component: 'admin' }),
      );
      self = new AdminServer(server, listener, true);
      self.port = listener.port;
    } else {
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(hostPort, grpc.ServerCredentials.createInsecure(), (err, p) =>
          err ? reject(err) : resolve(p),
        );
      });
      self = new AdminServer(server, undefined, false);
      self.port = port;
    }
    self.host = host;
    return self;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  async close(): Promise<void> {
    this.#listener?.close();
    await shutdownServer(this.#server);
  }
}
