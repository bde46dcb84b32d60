import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { ConfigKind, JsonValue } from '../cluster/coordinator.js';
import type { AdminMode, NodeStatus } from './admin-backend.js';
import {
  type AdminServiceClient,
  adminPackage,
  type ClusterStatusMsg,
  ERROR_CODE_METADATA,
  type ImportConfigResponse,
  type NodeStatusMsg,
  type SwitchoverResponse,
  type VerifyResultMsg,
} from './admin-proto.js';
import { recoveryFromMsg } from './recovery-msg.js';

export { DEFAULT_ADMIN_PORT } from './admin-proto.js';

/** A failed admin call: the gRPC status, and the TANDEM_ERR code when the node sent one. */
export class AdminCallError extends Error {
  readonly grpcCode: grpc.status;
  readonly tandemCode: string | undefined;
  readonly endpoint: string;
  readonly rpc: string;
  constructor(rpc: string, endpoint: string, err: grpc.ServiceError) {
    super(err.details || err.message);
    this.name = 'AdminCallError';
    this.rpc = rpc;
    this.endpoint = endpoint;
    this.grpcCode = err.code;
    const code = err.metadata?.get(ERROR_CODE_METADATA)[0];
    this.tandemCode = typeof code === 'string' ? code : undefined;
  }

  /** The node did not answer at all (nothing listening, unreachable, deadline). */
  get unreachable(): boolean {
    return (
      this.tandemCode === undefined &&
      (this.grpcCode === grpc.status.UNAVAILABLE || this.grpcCode === grpc.status.DEADLINE_EXCEEDED)
    );
  }
}

/** What tandemctl (or a node forwarding a call) presents to an admin API over TLS. */
export interface AdminClientTls {
  /** The cluster CA (bundle) the node's certificate must chain to. */
  readonly ca: Buffer;
  /** The client certificate and its key (both or neither; neither: the node answers UNAUTHENTICATED). */
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
}

export interface AdminClientOptions {
  /** Deadline of each unary call; default 5000 ms. */
  timeoutMs?: number;
  /** TLS to the node (absent: plaintext, for a node with `insecure: true`). */
  tls?: AdminClientTls | undefined;
}

/**
 * The admin server must present a node certificate of the cluster CA. Nodes are reached by
 * whatever address the operator types or the node registered (often an IP its certificate does
 * not name), so the check is the certificate's kind, not the host name; the chain is verified
 * against `ca` by TLS itself.
 */
function checkAdminServer(_host: string, cert: PeerCertificate): Error | undefined {
  const ou = cert.subject?.OU;
  if (ou === 'node' && typeof cert.subject.CN === 'string') return undefined;
  return new Error('the admin API presented a certificate that is not a Tandem node certificate');
}

export function adminChannelCredentials(t: AdminClientTls | undefined): grpc.ChannelCredentials {
  if (!t) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(t.ca, t.key ?? null, t.cert ?? null, {
    checkServerIdentity: checkAdminServer,
  });
}

export interface ConfigEntryView {
  kind: ConfigKind;
  name: string;
  value: JsonValue;
  revision: number;
}

/**
 * Typed client of the Admin service. Calls fail fast (grpc-js's default, waitForReady false: no
 * waiting for the channel to become ready): connection refused fails at once, an unreachable
 * address at the deadline.
 */
export class AdminClient {
  readonly endpoint: string;
  readonly #client: AdminServiceClient;
  readonly #timeoutMs: number;

  constructor(endpoint: string, opts: AdminClientOptions = {}) {
    this.endpoint = endpoint;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    const Ctor = adminPackage().Admin;
    this.#client = new Ctor(endpoint, adminChannelCredentials(opts.tls), {
      // One attempt per call: tandemctl reports unreachable nodes instead of retrying them.
      'grpc.enable_retries': 0,
      'grpc.initial_reconnect_backoff_ms': 100,
      // The TLS server name (SNI) is not an IP address (RFC 6066); checkAdminServer decides.
      ...(opts.tls ? { 'grpc.ssl_target_name_override': 'tandem-admin' } : {}),
    }) as unknown as AdminServiceClient;
  }

  #call<Req, Res>(rpc: keyof AdminServiceClient & string, req: Req, timeoutMs?: number): Promise<Res> {
    const fn = this.#client[rpc] as unknown as (
      req: Req,
      md: grpc.Metadata,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res?: Res) => void,
    ) => grpc.ClientUnaryCall;
    return new Promise<Res>((resolve, reject) => {
      fn.call(
        this.#client,
        req,
        new grpc.Metadata(),
        { deadline: Date.now() + (timeoutMs ?? this.#timeoutMs) },
        (err, res) => (err ? reject(new AdminCallError(rpc, this.endpoint, err)) : resolve(res as Res)),
      );
    });
  }

  status(): Promise<ClusterStatusMsg> {
    return this.#call('Status', {});
  }

  nodeStatus(): Promise<NodeStatusMsg> {
    return this.#call('NodeStatus', {});
  }

  /** Another node's NodeStatus in the backend's shape (for clusterStatus' fan-out). */
  async fetchNodeStatus(timeoutMs?: number): Promise<NodeStatus> {
    return nodeStatusFromMsg(await this.#call<object, NodeStatusMsg>('NodeStatus', {}, timeoutMs));
  }

  async listConfig(kind?: ConfigKind): Promise<{ revision: number; entries: ConfigEntryView[] }> {
    const r = await this.#call<
      { kind: string },
      { revision: number; entries: { kind: string; name: string; valueJson: string; revision: number }[] }
    >('ListConfig', { kind: kind ?? '' });
    return {
      revision: r.revision,
      entries: r.entries.map((e) => ({
        kind: e.kind as ConfigKind,
        name: e.name,
        value: JSON.parse(e.valueJson) as JsonValue,
        revision: e.revision,
      })),
    };
  }

  /** The entry, or undefined if it does not exist. */
  async getConfig(kind: ConfigKind, name: string): Promise<ConfigEntryView | undefined> {
    try {
      const e = await this.#call<{ kind: string; name: string }, { valueJson: string; revision: number }>(
        'GetConfig',
        { kind, name },
      );
      return { kind, name, value: JSON.parse(e.valueJson) as JsonValue, revision: e.revision };
    } catch (err) {
      if (err instanceof AdminCallError && err.grpcCode === grpc.status.NOT_FOUND) return undefined;
      throw err;
    }
  }

  /** With `expectedRevision`: only if unchanged since (0: only if absent); else ABORTED. */
  async putConfig(
    kind: ConfigKind,
    name: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number> {
    const r = await this.#call<object, { revision: number }>('PutConfig', {
      kind,
      name,
      valueJson: JSON.stringify(value),
      ...(expectedRevision === undefined ? {} : { expectedRevision }),
    });
    return r.revision;
  }

  async deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean> {
    const r = await this.#call<object, { deleted: boolean }>('DeleteConfig', {
      kind,
      name,
      ...(expectedRevision === undefined ? {} : { expectedRevision }),
    });
    return r.deleted;
  }

  exportConfig(showSecrets: boolean): Promise<{ yaml: string; revision: number }> {
    return this.#call('ExportConfig', { showSecrets });
  }

  importConfig(yaml: string, dryRun: boolean, timeoutMs?: number): Promise<ImportConfigResponse> {
    return this.#call('ImportConfig', { yaml, dryRun }, timeoutMs);
  }

  switchover(volume: string, to: string | undefined, timeoutMs?: number): Promise<SwitchoverResponse> {
    return this.#call('Switchover', { volume, to: to ?? '' }, timeoutMs);
  }

  async metricsText(): Promise<string> {
    return (await this.#call<object, { text: string }>('Metrics', {})).text;
  }

  /**
   * Runs Verify: the first message must arrive within the call timeout (the node answers it at
   * once), later ones within `idleTimeoutMs` (default 60 s) of each other; no overall deadline.
   */
  verify(
    volume: string,
    onProgress: (done: number, total: number) => void,
    opts: { idleTimeoutMs?: number } = {},
  ): Promise<VerifyResultMsg> {
    const call = this.#client.Verify({ volume }, new grpc.Metadata(), {});
    return new Promise<VerifyResultMsg>((resolve, reject) => {
      let result: VerifyResultMsg | undefined;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const fail = (err: grpc.ServiceError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new AdminCallError('Verify', this.endpoint, err));
      };
      const arm = (ms: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          call.cancel();
          const e = Object.assign(new Error(`no answer in ${ms} ms`), {
            code: grpc.status.DEADLINE_EXCEEDED,
            details: `no answer in ${ms} ms`,
            metadata: new grpc.Metadata(),
          });
          fail(e);
        }, ms);
      };
      arm(this.#timeoutMs);
      call.on(
        'data',
        (m: {
          progress?: { doneBytes: number; totalBytes: number } | null;
          result?: VerifyResultMsg | null;
        }) => {
          arm(opts.idleTimeoutMs ?? 60_000);
          if (m.progress) onProgress(m.progress.doneBytes, m.progress.totalBytes);
          if (m.result) result = m.result;
        },
      );
      call.on('error', (err: grpc.ServiceError) => fail(err));
      call.on('status', (s: grpc.StatusObject) => {
        if (settled || s.code !== grpc.status.OK) return;
        settled = true;
        clearTimeout(timer);
        if (result) resolve(result);
        else reject(new Error('Verify ended without a result'));
      });
    });
  }

  close(): void {
    this.#client.close();
  }
}

export function nodeStatusFromMsg(m: NodeStatusMsg): NodeStatus {
  return {
    name: m.name,
    mode: m.mode as AdminMode,
    portals: m.portals,
    admin: m.admin,
    grpc: m.grpc,
    upSince: m.upSinceMs,
    volumes: m.volumes.map((v) => ({
      id: v.id,
      role: v.role,
      aluaState: v.aluaState,
      epoch: v.epoch,
      size: v.size,
      ...(v.replication
        ? {
            replication: {
              inSync: v.replication.inSync,
              peers: v.replication.peers,
              resyncDone: v.replication.resyncDoneBytes,
              resyncTotal: v.replication.resyncTotalBytes,
            },
          }
        : {}),
      ...(v.recovery ? { recovery: recoveryFromMsg(v.recovery) } : {}),
    })),
    sessions: m.sessions.map((s) => ({
      node: s.node,
      initiator: s.initiator,
      isid: s.isid,
      target: s.target,
      portal: s.portal,
      since: s.sinceMs,
      connections: s.connections,
    })),
  };
}
