import * as grpc from '@grpc/grpc-js';
import { loadProtoPackage } from '../util/proto.js';

/**
 * proto/tandem/admin/v1/admin.proto, loaded at run time with @grpc/proto-loader like the forward
 * service (src/cluster/forward-proto.ts). The message shapes below mirror the .proto as
 * proto-loader presents them (camelCase, longs as numbers, defaults filled in).
 */

export const ADMIN_PROTO = 'tandem/admin/v1/admin.proto';

/** The admin API's default port (tandemctl's default endpoint is 127.0.0.1:7070). */
export const DEFAULT_ADMIN_PORT = 7070;

/** Trailing metadata key carrying the TANDEM_ERR_… code of a failed call. */
export const ERROR_CODE_METADATA = 'tandem-error-code';

export interface SessionMsg {
  node: string;
  initiator: string;
  isid: string;
  target: string;
  portal: string;
  sinceMs: number;
  connections: number;
}

export interface ReplicationMsg {
  inSync: string[];
  peers: { node: string; state: string }[];
  resyncDoneBytes: number;
  resyncTotalBytes: number;
}

export interface NodeVolumeMsg {
  id: string;
  role: string;
  aluaState: string;
  epoch: number;
  size: number;
  replication: ReplicationMsg | null;
}

export interface NodeStatusMsg {
  name: string;
  mode: string;
  portals: string[];
  admin: string;
  grpc: string;
  upSinceMs: number;
  volumes: NodeVolumeMsg[];
  sessions: SessionMsg[];
}

export interface NodeInfoMsg {
  name: string;
  up: boolean;
  portals: string[];
  admin: string;
  grpc: string;
  targetPortGroupId: number;
  upSinceMs: number;
}

export interface VolumeStatusMsg {
  id: string;
  kind: string;
  size: number;
  replicas: string[];
  inSync: string[];
  primary: string;
  epoch: number;
  portGroups: { node: string; targetPortGroupId: number; state: string }[];
  resyncDoneBytes: number;
  resyncTotalBytes: number;
  luns: string[];
}

export interface ClusterStatusMsg {
  mode: string;
  node: string;
  nodes: NodeInfoMsg[];
  volumes: VolumeStatusMsg[];
  sessions: SessionMsg[];
  warnings: string[];
}

export interface ConfigEntryMsg {
  kind: string;
  name: string;
  valueJson: string;
  revision: number;
}

export interface ListConfigResponse {
  revision: number;
  entries: ConfigEntryMsg[];
}

export interface PutConfigRequest {
  kind: string;
  name: string;
  valueJson: string;
  expectedRevision?: number;
}

export interface DeleteConfigRequest {
  kind: string;
  name: string;
  expectedRevision?: number;
}

export interface ImportConfigResponse {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: number;
  applied: boolean;
}

export interface SwitchoverResponse {
  volume: string;
  from: string;
  to: string;
  epoch: number;
}

export interface VerifyResultMsg {
  regions: number;
  regionSize: number;
  differing: { node: string; offset: number; length: number }[];
}

export interface VerifyMessage {
  progress?: { doneBytes: number; totalBytes: number } | null;
  result?: VerifyResultMsg | null;
  kind?: 'progress' | 'result';
}

type Unary<Req, Res> = (
  req: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;

export interface AdminServiceClient extends grpc.Client {
  Status: Unary<Record<string, never>, ClusterStatusMsg>;
  NodeStatus: Unary<Record<string, never>, NodeStatusMsg>;
  ListConfig: Unary<{ kind: string }, ListConfigResponse>;
  GetConfig: Unary<{ kind: string; name: string }, ConfigEntryMsg>;
  PutConfig: Unary<PutConfigRequest, { revision: number }>;
  DeleteConfig: Unary<DeleteConfigRequest, { deleted: boolean }>;
  ExportConfig: Unary<{ showSecrets: boolean }, { yaml: string; revision: number }>;
  ImportConfig: Unary<{ yaml: string; dryRun: boolean }, ImportConfigResponse>;
  Switchover: Unary<{ volume: string; to: string }, SwitchoverResponse>;
  Metrics: Unary<Record<string, never>, { text: string }>;
  Verify(
    req: { volume: string },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
  ): grpc.ClientReadableStream<VerifyMessage>;
}

interface AdminPackage {
  Admin: grpc.ServiceClientConstructor;
}

let loaded: AdminPackage | undefined;

export function adminPackage(): AdminPackage {
  loaded ??= loadProtoPackage<AdminPackage>(ADMIN_PROTO, 'tandem.admin.v1');
  return loaded;
}

/**
 * TANDEM_ERR_… code → gRPC status. Keyed by string: the TANDEM_ERR_ADMIN_* rows are codes the
 * admin API needs that the catalogue (src/util/errors.ts) does not have yet.
 */
export const GRPC_STATUS_OF: Readonly<Record<string, grpc.status>> = {
  TANDEM_ERR_CLUSTER_UNAVAILABLE: grpc.status.UNAVAILABLE,
  TANDEM_ERR_CLUSTER_CLOSED: grpc.status.UNAVAILABLE,
  TANDEM_ERR_CLUSTER_RESERVATIONS_NOT_APPLIED: grpc.status.UNAVAILABLE,
  TANDEM_ERR_FORWARD_UNAVAILABLE: grpc.status.UNAVAILABLE,
  TANDEM_ERR_REPLICATION_UNAVAILABLE: grpc.status.UNAVAILABLE,
  TANDEM_ERR_REPLICATION_FENCED: grpc.status.UNAVAILABLE,
  TANDEM_ERR_REPLICATION_STALE_EPOCH: grpc.status.FAILED_PRECONDITION,
  TANDEM_ERR_CLUSTER_NOT_LEADER: grpc.status.FAILED_PRECONDITION,
  TANDEM_ERR_CONFIG_UNSUPPORTED: grpc.status.FAILED_PRECONDITION,
  TANDEM_ERR_ADMIN_WRONG_MODE: grpc.status.FAILED_PRECONDITION,
  TANDEM_ERR_CLUSTER_CONFLICT: grpc.status.ABORTED,
  TANDEM_ERR_CLUSTER_INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  TANDEM_ERR_CONFIG_INVALID: grpc.status.INVALID_ARGUMENT,
  TANDEM_ERR_ADMIN_NOT_FOUND: grpc.status.NOT_FOUND,
  TANDEM_ERR_ADMIN_EXISTS: grpc.status.ALREADY_EXISTS,
  TANDEM_ERR_CLUSTER_IDS_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  TANDEM_ERR_CLUSTER_CORRUPT: grpc.status.DATA_LOSS,
  TANDEM_ERR_ASSERT: grpc.status.INTERNAL,
};

/** The TANDEM_ERR_… code of an error, if it carries one. */
export function tandemCodeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('TANDEM_ERR_') ? code : undefined;
}

/** An answer that is a gRPC status but no failure of Tandem (GetConfig of a missing entry). */
export function statusAnswer(status: grpc.status, message: string): Error {
  return Object.assign(new Error(message), { grpcStatus: status });
}

/** A gRPC error (status, details, metadata) for anything a backend threw. */
export function toServiceError(err: unknown): Partial<grpc.StatusObject> & { code: grpc.status } {
  const code = tandemCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const answer = (err as { grpcStatus?: unknown } | null)?.grpcStatus;
  if (typeof answer === 'number') return { code: answer, details: message };
  if (code === undefined) return { code: grpc.status.INTERNAL, details: message };
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_METADATA, code);
  const retryable = (err as { retryable?: unknown }).retryable === true;
  const status = GRPC_STATUS_OF[code] ?? (retryable ? grpc.status.UNAVAILABLE : grpc.status.UNKNOWN);
  return { code: status, details: message, metadata };
}
