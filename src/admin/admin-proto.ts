import * as grpc from '@grpc/grpc-js';
import type { ClusterStatus__Output } from '../gen/tandem/admin/v1/ClusterStatus.js';
import type { ConfigEntry__Output } from '../gen/tandem/admin/v1/ConfigEntry.js';
import type { DeleteConfigRequest__Output } from '../gen/tandem/admin/v1/DeleteConfigRequest.js';
import type { DeleteConfigResponse__Output } from '../gen/tandem/admin/v1/DeleteConfigResponse.js';
import type { ExportConfigRequest__Output } from '../gen/tandem/admin/v1/ExportConfigRequest.js';
import type { ExportConfigResponse__Output } from '../gen/tandem/admin/v1/ExportConfigResponse.js';
import type { GetConfigRequest__Output } from '../gen/tandem/admin/v1/GetConfigRequest.js';
import type { ImportConfigRequest__Output } from '../gen/tandem/admin/v1/ImportConfigRequest.js';
import type { ImportConfigResponse__Output } from '../gen/tandem/admin/v1/ImportConfigResponse.js';
import type { ListConfigRequest__Output } from '../gen/tandem/admin/v1/ListConfigRequest.js';
import type { ListConfigResponse__Output } from '../gen/tandem/admin/v1/ListConfigResponse.js';
import type { MetricsRequest__Output } from '../gen/tandem/admin/v1/MetricsRequest.js';
import type { MetricsResponse__Output } from '../gen/tandem/admin/v1/MetricsResponse.js';
import type { NodeInfo__Output } from '../gen/tandem/admin/v1/NodeInfo.js';
import type { NodeStatus__Output } from '../gen/tandem/admin/v1/NodeStatus.js';
import type { NodeStatusRequest__Output } from '../gen/tandem/admin/v1/NodeStatusRequest.js';
import type { NodeVolume__Output } from '../gen/tandem/admin/v1/NodeVolume.js';
import type { PeerState__Output } from '../gen/tandem/admin/v1/PeerState.js';
import type { PutConfigRequest__Output } from '../gen/tandem/admin/v1/PutConfigRequest.js';
import type { PutConfigResponse__Output } from '../gen/tandem/admin/v1/PutConfigResponse.js';
import type { Replication__Output } from '../gen/tandem/admin/v1/Replication.js';
import type { Session__Output } from '../gen/tandem/admin/v1/Session.js';
import type { StatusRequest__Output } from '../gen/tandem/admin/v1/StatusRequest.js';
import type { SwitchoverRequest__Output } from '../gen/tandem/admin/v1/SwitchoverRequest.js';
import type { SwitchoverResponse__Output } from '../gen/tandem/admin/v1/SwitchoverResponse.js';
import type { VerifyMessage__Output } from '../gen/tandem/admin/v1/VerifyMessage.js';
import type { VerifyRequest__Output } from '../gen/tandem/admin/v1/VerifyRequest.js';
import type { VerifyResult__Output } from '../gen/tandem/admin/v1/VerifyResult.js';
import type { VolumeStatus__Output } from '../gen/tandem/admin/v1/VolumeStatus.js';
import { loadService } from '../util/proto.js';

/**
 * proto/tandem/admin/v1/admin.proto: its message types are generated (src/gen/, `npm run proto`);
 * these are the names the admin code uses for them.
 */

export const ADMIN_PROTO = 'tandem/admin/v1/admin.proto';

/** The admin API's default port (tandemctl's default endpoint is 127.0.0.1:7070). */
export const DEFAULT_ADMIN_PORT = 7070;

/** Trailing metadata key carrying the TANDEM_ERR_… code of a failed call. */
export const ERROR_CODE_METADATA = 'tandem-error-code';

export type SessionMsg = Session__Output;
export type ReplicationMsg = Replication__Output;
/** A peer's resync as the primary reports it. */
export type PeerStateMsg = PeerState__Output;
export type NodeVolumeMsg = NodeVolume__Output;
export type NodeStatusMsg = NodeStatus__Output;
export type NodeInfoMsg = NodeInfo__Output;
export type VolumeStatusMsg = VolumeStatus__Output;
export type ClusterStatusMsg = ClusterStatus__Output;
export type ConfigEntryMsg = ConfigEntry__Output;
export type ListConfigResponse = ListConfigResponse__Output;
export type PutConfigRequest = PutConfigRequest__Output;
export type DeleteConfigRequest = DeleteConfigRequest__Output;
export type ImportConfigResponse = ImportConfigResponse__Output;
export type SwitchoverResponse = SwitchoverResponse__Output;
export type VerifyResultMsg = VerifyResult__Output;
export type VerifyMessage = VerifyMessage__Output;

type Unary<Req, Res> = (
  req: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;

export interface AdminServiceClient extends grpc.Client {
  Status: Unary<StatusRequest__Output, ClusterStatusMsg>;
  NodeStatus: Unary<NodeStatusRequest__Output, NodeStatusMsg>;
  ListConfig: Unary<ListConfigRequest__Output, ListConfigResponse>;
  GetConfig: Unary<GetConfigRequest__Output, ConfigEntryMsg>;
  PutConfig: Unary<PutConfigRequest, PutConfigResponse__Output>;
  DeleteConfig: Unary<DeleteConfigRequest, DeleteConfigResponse__Output>;
  ExportConfig: Unary<ExportConfigRequest__Output, ExportConfigResponse__Output>;
  ImportConfig: Unary<ImportConfigRequest__Output, ImportConfigResponse>;
  Switchover: Unary<SwitchoverRequest__Output, SwitchoverResponse>;
  Metrics: Unary<MetricsRequest__Output, MetricsResponse__Output>;
  Verify(
    req: VerifyRequest__Output,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
  ): grpc.ClientReadableStream<VerifyMessage>;
}

interface AdminPackage {
  Admin: grpc.ServiceClientConstructor;
}

let loaded: AdminPackage | undefined;

export function adminPackage(): AdminPackage {
  loaded ??= { Admin: loadService(ADMIN_PROTO, 'tandem.admin.v1.Admin') };
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
