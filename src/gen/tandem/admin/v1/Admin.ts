// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
// Original file: proto/tandem/admin/v1/admin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ClusterStatus as _tandem_admin_v1_ClusterStatus, ClusterStatus__Output as _tandem_admin_v1_ClusterStatus__Output } from '../../../tandem/admin/v1/ClusterStatus.js';
import type { ConfigEntry as _tandem_admin_v1_ConfigEntry, ConfigEntry__Output as _tandem_admin_v1_ConfigEntry__Output } from '../../../tandem/admin/v1/ConfigEntry.js';
import type { DeleteConfigRequest as _tandem_admin_v1_DeleteConfigRequest, DeleteConfigRequest__Output as _tandem_admin_v1_DeleteConfigRequest__Output } from '../../../tandem/admin/v1/DeleteConfigRequest.js';
import type { DeleteConfigResponse as _tandem_admin_v1_DeleteConfigResponse, DeleteConfigResponse__Output as _tandem_admin_v1_DeleteConfigResponse__Output } from '../../../tandem/admin/v1/DeleteConfigResponse.js';
import type { ExportConfigRequest as _tandem_admin_v1_ExportConfigRequest, ExportConfigRequest__Output as _tandem_admin_v1_ExportConfigRequest__Output } from '../../../tandem/admin/v1/ExportConfigRequest.js';
import type { ExportConfigResponse as _tandem_admin_v1_ExportConfigResponse, ExportConfigResponse__Output as _tandem_admin_v1_ExportConfigResponse__Output } from '../../../tandem/admin/v1/ExportConfigResponse.js';
import type { GetConfigRequest as _tandem_admin_v1_GetConfigRequest, GetConfigRequest__Output as _tandem_admin_v1_GetConfigRequest__Output } from '../../../tandem/admin/v1/GetConfigRequest.js';
import type { ImportConfigRequest as _tandem_admin_v1_ImportConfigRequest, ImportConfigRequest__Output as _tandem_admin_v1_ImportConfigRequest__Output } from '../../../tandem/admin/v1/ImportConfigRequest.js';
import type { ImportConfigResponse as _tandem_admin_v1_ImportConfigResponse, ImportConfigResponse__Output as _tandem_admin_v1_ImportConfigResponse__Output } from '../../../tandem/admin/v1/ImportConfigResponse.js';
import type { ListConfigRequest as _tandem_admin_v1_ListConfigRequest, ListConfigRequest__Output as _tandem_admin_v1_ListConfigRequest__Output } from '../../../tandem/admin/v1/ListConfigRequest.js';
import type { ListConfigResponse as _tandem_admin_v1_ListConfigResponse, ListConfigResponse__Output as _tandem_admin_v1_ListConfigResponse__Output } from '../../../tandem/admin/v1/ListConfigResponse.js';
import type { MetricsRequest as _tandem_admin_v1_MetricsRequest, MetricsRequest__Output as _tandem_admin_v1_MetricsRequest__Output } from '../../../tandem/admin/v1/MetricsRequest.js';
import type { MetricsResponse as _tandem_admin_v1_MetricsResponse, MetricsResponse__Output as _tandem_admin_v1_MetricsResponse__Output } from '../../../tandem/admin/v1/MetricsResponse.js';
import type { NodeStatus as _tandem_admin_v1_NodeStatus, NodeStatus__Output as _tandem_admin_v1_NodeStatus__Output } from '../../../tandem/admin/v1/NodeStatus.js';
import type { NodeStatusRequest as _tandem_admin_v1_NodeStatusRequest, NodeStatusRequest__Output as _tandem_admin_v1_NodeStatusRequest__Output } from '../../../tandem/admin/v1/NodeStatusRequest.js';
import type { PutConfigRequest as _tandem_admin_v1_PutConfigRequest, PutConfigRequest__Output as _tandem_admin_v1_PutConfigRequest__Output } from '../../../tandem/admin/v1/PutConfigRequest.js';
import type { PutConfigResponse as _tandem_admin_v1_PutConfigResponse, PutConfigResponse__Output as _tandem_admin_v1_PutConfigResponse__Output } from '../../../tandem/admin/v1/PutConfigResponse.js';
import type { StatusRequest as _tandem_admin_v1_StatusRequest, StatusRequest__Output as _tandem_admin_v1_StatusRequest__Output } from '../../../tandem/admin/v1/StatusRequest.js';
import type { SwitchoverRequest as _tandem_admin_v1_SwitchoverRequest, SwitchoverRequest__Output as _tandem_admin_v1_SwitchoverRequest__Output } from '../../../tandem/admin/v1/SwitchoverRequest.js';
import type { SwitchoverResponse as _tandem_admin_v1_SwitchoverResponse, SwitchoverResponse__Output as _tandem_admin_v1_SwitchoverResponse__Output } from '../../../tandem/admin/v1/SwitchoverResponse.js';
import type { VerifyMessage as _tandem_admin_v1_VerifyMessage, VerifyMessage__Output as _tandem_admin_v1_VerifyMessage__Output } from '../../../tandem/admin/v1/VerifyMessage.js';
import type { VerifyRequest as _tandem_admin_v1_VerifyRequest, VerifyRequest__Output as _tandem_admin_v1_VerifyRequest__Output } from '../../../tandem/admin/v1/VerifyRequest.js';

export interface AdminClient extends grpc.Client {
  DeleteConfig(argument: _tandem_admin_v1_DeleteConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_DeleteConfigResponse__Output>): grpc.ClientUnaryCall;
  DeleteConfig(argument: _tandem_admin_v1_DeleteConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_DeleteConfigResponse__Output>): grpc.ClientUnaryCall;
  DeleteConfig(argument: _tandem_admin_v1_DeleteConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_DeleteConfigResponse__Output>): grpc.ClientUnaryCall;
  DeleteConfig(argument: _tandem_admin_v1_DeleteConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_DeleteConfigResponse__Output>): grpc.ClientUnaryCall;
  deleteConfig(argument: _tandem_admin_v1_DeleteConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_DeleteConfigResponse__Output>): grpc.ClientUnaryCall;
  deleteConfig(argument: _tandem_admin_v1_DeleteConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_DeleteConfigResponse__Output>): grpc.ClientUnaryCall;
  deleteConfig(argument: _tandem_admin_v1_DeleteConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_DeleteConfigResponse__Output>): grpc.ClientUnaryCall;
  deleteConfig(argument: _tandem_admin_v1_DeleteConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_DeleteConfigResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The whole configuration as one YAML document (src/admin/config-document.ts).
   */
  ExportConfig(argument: _tandem_admin_v1_ExportConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ExportConfigResponse__Output>): grpc.ClientUnaryCall;
  ExportConfig(argument: _tandem_admin_v1_ExportConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_ExportConfigResponse__Output>): grpc.ClientUnaryCall;
  ExportConfig(argument: _tandem_admin_v1_ExportConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ExportConfigResponse__Output>): grpc.ClientUnaryCall;
  ExportConfig(argument: _tandem_admin_v1_ExportConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_ExportConfigResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The whole configuration as one YAML document (src/admin/config-document.ts).
   */
  exportConfig(argument: _tandem_admin_v1_ExportConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ExportConfigResponse__Output>): grpc.ClientUnaryCall;
  exportConfig(argument: _tandem_admin_v1_ExportConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_ExportConfigResponse__Output>): grpc.ClientUnaryCall;
  exportConfig(argument: _tandem_admin_v1_ExportConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ExportConfigResponse__Output>): grpc.ClientUnaryCall;
  exportConfig(argument: _tandem_admin_v1_ExportConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_ExportConfigResponse__Output>): grpc.ClientUnaryCall;
  
  GetConfig(argument: _tandem_admin_v1_GetConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  GetConfig(argument: _tandem_admin_v1_GetConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  GetConfig(argument: _tandem_admin_v1_GetConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  GetConfig(argument: _tandem_admin_v1_GetConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  getConfig(argument: _tandem_admin_v1_GetConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  getConfig(argument: _tandem_admin_v1_GetConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  getConfig(argument: _tandem_admin_v1_GetConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  getConfig(argument: _tandem_admin_v1_GetConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_ConfigEntry__Output>): grpc.ClientUnaryCall;
  
  /**
   * Replaces the whole configuration with the document's, in one transaction (unless dry_run).
   */
  ImportConfig(argument: _tandem_admin_v1_ImportConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ImportConfigResponse__Output>): grpc.ClientUnaryCall;
  ImportConfig(argument: _tandem_admin_v1_ImportConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_ImportConfigResponse__Output>): grpc.ClientUnaryCall;
  ImportConfig(argument: _tandem_admin_v1_ImportConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ImportConfigResponse__Output>): grpc.ClientUnaryCall;
  ImportConfig(argument: _tandem_admin_v1_ImportConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_ImportConfigResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Replaces the whole configuration with the document's, in one transaction (unless dry_run).
   */
  importConfig(argument: _tandem_admin_v1_ImportConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ImportConfigResponse__Output>): grpc.ClientUnaryCall;
  importConfig(argument: _tandem_admin_v1_ImportConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_ImportConfigResponse__Output>): grpc.ClientUnaryCall;
  importConfig(argument: _tandem_admin_v1_ImportConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ImportConfigResponse__Output>): grpc.ClientUnaryCall;
  importConfig(argument: _tandem_admin_v1_ImportConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_ImportConfigResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Desired configuration, one entry `config/<kind>/<name>` at a time. Values are JSON text.
   */
  ListConfig(argument: _tandem_admin_v1_ListConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ListConfigResponse__Output>): grpc.ClientUnaryCall;
  ListConfig(argument: _tandem_admin_v1_ListConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_ListConfigResponse__Output>): grpc.ClientUnaryCall;
  ListConfig(argument: _tandem_admin_v1_ListConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ListConfigResponse__Output>): grpc.ClientUnaryCall;
  ListConfig(argument: _tandem_admin_v1_ListConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_ListConfigResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Desired configuration, one entry `config/<kind>/<name>` at a time. Values are JSON text.
   */
  listConfig(argument: _tandem_admin_v1_ListConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ListConfigResponse__Output>): grpc.ClientUnaryCall;
  listConfig(argument: _tandem_admin_v1_ListConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_ListConfigResponse__Output>): grpc.ClientUnaryCall;
  listConfig(argument: _tandem_admin_v1_ListConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ListConfigResponse__Output>): grpc.ClientUnaryCall;
  listConfig(argument: _tandem_admin_v1_ListConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_ListConfigResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * This node's Prometheus registry in text exposition format (tandemctl top).
   */
  Metrics(argument: _tandem_admin_v1_MetricsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_MetricsResponse__Output>): grpc.ClientUnaryCall;
  Metrics(argument: _tandem_admin_v1_MetricsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_MetricsResponse__Output>): grpc.ClientUnaryCall;
  Metrics(argument: _tandem_admin_v1_MetricsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_MetricsResponse__Output>): grpc.ClientUnaryCall;
  Metrics(argument: _tandem_admin_v1_MetricsRequest, callback: grpc.requestCallback<_tandem_admin_v1_MetricsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * This node's Prometheus registry in text exposition format (tandemctl top).
   */
  metrics(argument: _tandem_admin_v1_MetricsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_MetricsResponse__Output>): grpc.ClientUnaryCall;
  metrics(argument: _tandem_admin_v1_MetricsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_MetricsResponse__Output>): grpc.ClientUnaryCall;
  metrics(argument: _tandem_admin_v1_MetricsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_MetricsResponse__Output>): grpc.ClientUnaryCall;
  metrics(argument: _tandem_admin_v1_MetricsRequest, callback: grpc.requestCallback<_tandem_admin_v1_MetricsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * This node only: what Status collects from every node.
   */
  NodeStatus(argument: _tandem_admin_v1_NodeStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_NodeStatus__Output>): grpc.ClientUnaryCall;
  NodeStatus(argument: _tandem_admin_v1_NodeStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_NodeStatus__Output>): grpc.ClientUnaryCall;
  NodeStatus(argument: _tandem_admin_v1_NodeStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_NodeStatus__Output>): grpc.ClientUnaryCall;
  NodeStatus(argument: _tandem_admin_v1_NodeStatusRequest, callback: grpc.requestCallback<_tandem_admin_v1_NodeStatus__Output>): grpc.ClientUnaryCall;
  /**
   * This node only: what Status collects from every node.
   */
  nodeStatus(argument: _tandem_admin_v1_NodeStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_NodeStatus__Output>): grpc.ClientUnaryCall;
  nodeStatus(argument: _tandem_admin_v1_NodeStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_NodeStatus__Output>): grpc.ClientUnaryCall;
  nodeStatus(argument: _tandem_admin_v1_NodeStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_NodeStatus__Output>): grpc.ClientUnaryCall;
  nodeStatus(argument: _tandem_admin_v1_NodeStatusRequest, callback: grpc.requestCallback<_tandem_admin_v1_NodeStatus__Output>): grpc.ClientUnaryCall;
  
  PutConfig(argument: _tandem_admin_v1_PutConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_PutConfigResponse__Output>): grpc.ClientUnaryCall;
  PutConfig(argument: _tandem_admin_v1_PutConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_PutConfigResponse__Output>): grpc.ClientUnaryCall;
  PutConfig(argument: _tandem_admin_v1_PutConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_PutConfigResponse__Output>): grpc.ClientUnaryCall;
  PutConfig(argument: _tandem_admin_v1_PutConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_PutConfigResponse__Output>): grpc.ClientUnaryCall;
  putConfig(argument: _tandem_admin_v1_PutConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_PutConfigResponse__Output>): grpc.ClientUnaryCall;
  putConfig(argument: _tandem_admin_v1_PutConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_PutConfigResponse__Output>): grpc.ClientUnaryCall;
  putConfig(argument: _tandem_admin_v1_PutConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_PutConfigResponse__Output>): grpc.ClientUnaryCall;
  putConfig(argument: _tandem_admin_v1_PutConfigRequest, callback: grpc.requestCallback<_tandem_admin_v1_PutConfigResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The whole cluster as this node sees it (embedded mode: this node only).
   */
  Status(argument: _tandem_admin_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ClusterStatus__Output>): grpc.ClientUnaryCall;
  Status(argument: _tandem_admin_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_ClusterStatus__Output>): grpc.ClientUnaryCall;
  Status(argument: _tandem_admin_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ClusterStatus__Output>): grpc.ClientUnaryCall;
  Status(argument: _tandem_admin_v1_StatusRequest, callback: grpc.requestCallback<_tandem_admin_v1_ClusterStatus__Output>): grpc.ClientUnaryCall;
  /**
   * The whole cluster as this node sees it (embedded mode: this node only).
   */
  status(argument: _tandem_admin_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ClusterStatus__Output>): grpc.ClientUnaryCall;
  status(argument: _tandem_admin_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_ClusterStatus__Output>): grpc.ClientUnaryCall;
  status(argument: _tandem_admin_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_ClusterStatus__Output>): grpc.ClientUnaryCall;
  status(argument: _tandem_admin_v1_StatusRequest, callback: grpc.requestCallback<_tandem_admin_v1_ClusterStatus__Output>): grpc.ClientUnaryCall;
  
  /**
   * Planned handover of a volume's primary role (DESIGN.md Failover).
   */
  Switchover(argument: _tandem_admin_v1_SwitchoverRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_SwitchoverResponse__Output>): grpc.ClientUnaryCall;
  Switchover(argument: _tandem_admin_v1_SwitchoverRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_SwitchoverResponse__Output>): grpc.ClientUnaryCall;
  Switchover(argument: _tandem_admin_v1_SwitchoverRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_SwitchoverResponse__Output>): grpc.ClientUnaryCall;
  Switchover(argument: _tandem_admin_v1_SwitchoverRequest, callback: grpc.requestCallback<_tandem_admin_v1_SwitchoverResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Planned handover of a volume's primary role (DESIGN.md Failover).
   */
  switchover(argument: _tandem_admin_v1_SwitchoverRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_SwitchoverResponse__Output>): grpc.ClientUnaryCall;
  switchover(argument: _tandem_admin_v1_SwitchoverRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_tandem_admin_v1_SwitchoverResponse__Output>): grpc.ClientUnaryCall;
  switchover(argument: _tandem_admin_v1_SwitchoverRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_tandem_admin_v1_SwitchoverResponse__Output>): grpc.ClientUnaryCall;
  switchover(argument: _tandem_admin_v1_SwitchoverRequest, callback: grpc.requestCallback<_tandem_admin_v1_SwitchoverResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Compares every replica of a volume region by region: progress messages, then one result.
   */
  Verify(argument: _tandem_admin_v1_VerifyRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tandem_admin_v1_VerifyMessage__Output>;
  Verify(argument: _tandem_admin_v1_VerifyRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tandem_admin_v1_VerifyMessage__Output>;
  /**
   * Compares every replica of a volume region by region: progress messages, then one result.
   */
  verify(argument: _tandem_admin_v1_VerifyRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tandem_admin_v1_VerifyMessage__Output>;
  verify(argument: _tandem_admin_v1_VerifyRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tandem_admin_v1_VerifyMessage__Output>;
  
}

export interface AdminHandlers extends grpc.UntypedServiceImplementation {
  DeleteConfig: grpc.handleUnaryCall<_tandem_admin_v1_DeleteConfigRequest__Output, _tandem_admin_v1_DeleteConfigResponse>;
  
  /**
   * The whole configuration as one YAML document (src/admin/config-document.ts).
   */
  ExportConfig: grpc.handleUnaryCall<_tandem_admin_v1_ExportConfigRequest__Output, _tandem_admin_v1_ExportConfigResponse>;
  
  GetConfig: grpc.handleUnaryCall<_tandem_admin_v1_GetConfigRequest__Output, _tandem_admin_v1_ConfigEntry>;
  
  /**
   * Replaces the whole configuration with the document's, in one transaction (unless dry_run).
   */
  ImportConfig: grpc.handleUnaryCall<_tandem_admin_v1_ImportConfigRequest__Output, _tandem_admin_v1_ImportConfigResponse>;
  
  /**
   * Desired configuration, one entry `config/<kind>/<name>` at a time. Values are JSON text.
   */
  ListConfig: grpc.handleUnaryCall<_tandem_admin_v1_ListConfigRequest__Output, _tandem_admin_v1_ListConfigResponse>;
  
  /**
   * This node's Prometheus registry in text exposition format (tandemctl top).
   */
  Metrics: grpc.handleUnaryCall<_tandem_admin_v1_MetricsRequest__Output, _tandem_admin_v1_MetricsResponse>;
  
  /**
   * This node only: what Status collects from every node.
   */
  NodeStatus: grpc.handleUnaryCall<_tandem_admin_v1_NodeStatusRequest__Output, _tandem_admin_v1_NodeStatus>;
  
  PutConfig: grpc.handleUnaryCall<_tandem_admin_v1_PutConfigRequest__Output, _tandem_admin_v1_PutConfigResponse>;
  
  /**
   * The whole cluster as this node sees it (embedded mode: this node only).
   */
  Status: grpc.handleUnaryCall<_tandem_admin_v1_StatusRequest__Output, _tandem_admin_v1_ClusterStatus>;
  
  /**
   * Planned handover of a volume's primary role (DESIGN.md Failover).
   */
  Switchover: grpc.handleUnaryCall<_tandem_admin_v1_SwitchoverRequest__Output, _tandem_admin_v1_SwitchoverResponse>;
  
  /**
   * Compares every replica of a volume region by region: progress messages, then one result.
   */
  Verify: grpc.handleServerStreamingCall<_tandem_admin_v1_VerifyRequest__Output, _tandem_admin_v1_VerifyMessage>;
  
}

export interface AdminDefinition extends grpc.ServiceDefinition {
  DeleteConfig: MethodDefinition<_tandem_admin_v1_DeleteConfigRequest, _tandem_admin_v1_DeleteConfigResponse, _tandem_admin_v1_DeleteConfigRequest__Output, _tandem_admin_v1_DeleteConfigResponse__Output>
  ExportConfig: MethodDefinition<_tandem_admin_v1_ExportConfigRequest, _tandem_admin_v1_ExportConfigResponse, _tandem_admin_v1_ExportConfigRequest__Output, _tandem_admin_v1_ExportConfigResponse__Output>
  GetConfig: MethodDefinition<_tandem_admin_v1_GetConfigRequest, _tandem_admin_v1_ConfigEntry, _tandem_admin_v1_GetConfigRequest__Output, _tandem_admin_v1_ConfigEntry__Output>
  ImportConfig: MethodDefinition<_tandem_admin_v1_ImportConfigRequest, _tandem_admin_v1_ImportConfigResponse, _tandem_admin_v1_ImportConfigRequest__Output, _tandem_admin_v1_ImportConfigResponse__Output>
  ListConfig: MethodDefinition<_tandem_admin_v1_ListConfigRequest, _tandem_admin_v1_ListConfigResponse, _tandem_admin_v1_ListConfigRequest__Output, _tandem_admin_v1_ListConfigResponse__Output>
  Metrics: MethodDefinition<_tandem_admin_v1_MetricsRequest, _tandem_admin_v1_MetricsResponse, _tandem_admin_v1_MetricsRequest__Output, _tandem_admin_v1_MetricsResponse__Output>
  NodeStatus: MethodDefinition<_tandem_admin_v1_NodeStatusRequest, _tandem_admin_v1_NodeStatus, _tandem_admin_v1_NodeStatusRequest__Output, _tandem_admin_v1_NodeStatus__Output>
  PutConfig: MethodDefinition<_tandem_admin_v1_PutConfigRequest, _tandem_admin_v1_PutConfigResponse, _tandem_admin_v1_PutConfigRequest__Output, _tandem_admin_v1_PutConfigResponse__Output>
  Status: MethodDefinition<_tandem_admin_v1_StatusRequest, _tandem_admin_v1_ClusterStatus, _tandem_admin_v1_StatusRequest__Output, _tandem_admin_v1_ClusterStatus__Output>
  Switchover: MethodDefinition<_tandem_admin_v1_SwitchoverRequest, _tandem_admin_v1_SwitchoverResponse, _tandem_admin_v1_SwitchoverRequest__Output, _tandem_admin_v1_SwitchoverResponse__Output>
  Verify: MethodDefinition<_tandem_admin_v1_VerifyRequest, _tandem_admin_v1_VerifyMessage, _tandem_admin_v1_VerifyRequest__Output, _tandem_admin_v1_VerifyMessage__Output>
}
