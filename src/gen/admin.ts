// DO NOT EDIT: generated from proto/ by `npm run proto` (proto/generate.mjs).
// biome-ignore-all format: generated code
// biome-ignore-all lint: generated code
// biome-ignore-all assist/source/organizeImports: generated code
import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AdminClient as _tandem_admin_v1_AdminClient, AdminDefinition as _tandem_admin_v1_AdminDefinition } from './tandem/admin/v1/Admin.js';
import type { ClusterStatus as _tandem_admin_v1_ClusterStatus, ClusterStatus__Output as _tandem_admin_v1_ClusterStatus__Output } from './tandem/admin/v1/ClusterStatus.js';
import type { ConfigEntry as _tandem_admin_v1_ConfigEntry, ConfigEntry__Output as _tandem_admin_v1_ConfigEntry__Output } from './tandem/admin/v1/ConfigEntry.js';
import type { DataGeneration as _tandem_admin_v1_DataGeneration, DataGeneration__Output as _tandem_admin_v1_DataGeneration__Output } from './tandem/admin/v1/DataGeneration.js';
import type { DeleteConfigRequest as _tandem_admin_v1_DeleteConfigRequest, DeleteConfigRequest__Output as _tandem_admin_v1_DeleteConfigRequest__Output } from './tandem/admin/v1/DeleteConfigRequest.js';
import type { DeleteConfigResponse as _tandem_admin_v1_DeleteConfigResponse, DeleteConfigResponse__Output as _tandem_admin_v1_DeleteConfigResponse__Output } from './tandem/admin/v1/DeleteConfigResponse.js';
import type { DifferingRegion as _tandem_admin_v1_DifferingRegion, DifferingRegion__Output as _tandem_admin_v1_DifferingRegion__Output } from './tandem/admin/v1/DifferingRegion.js';
import type { ExportConfigRequest as _tandem_admin_v1_ExportConfigRequest, ExportConfigRequest__Output as _tandem_admin_v1_ExportConfigRequest__Output } from './tandem/admin/v1/ExportConfigRequest.js';
import type { ExportConfigResponse as _tandem_admin_v1_ExportConfigResponse, ExportConfigResponse__Output as _tandem_admin_v1_ExportConfigResponse__Output } from './tandem/admin/v1/ExportConfigResponse.js';
import type { GetConfigRequest as _tandem_admin_v1_GetConfigRequest, GetConfigRequest__Output as _tandem_admin_v1_GetConfigRequest__Output } from './tandem/admin/v1/GetConfigRequest.js';
import type { ImportConfigRequest as _tandem_admin_v1_ImportConfigRequest, ImportConfigRequest__Output as _tandem_admin_v1_ImportConfigRequest__Output } from './tandem/admin/v1/ImportConfigRequest.js';
import type { ImportConfigResponse as _tandem_admin_v1_ImportConfigResponse, ImportConfigResponse__Output as _tandem_admin_v1_ImportConfigResponse__Output } from './tandem/admin/v1/ImportConfigResponse.js';
import type { ListConfigRequest as _tandem_admin_v1_ListConfigRequest, ListConfigRequest__Output as _tandem_admin_v1_ListConfigRequest__Output } from './tandem/admin/v1/ListConfigRequest.js';
import type { ListConfigResponse as _tandem_admin_v1_ListConfigResponse, ListConfigResponse__Output as _tandem_admin_v1_ListConfigResponse__Output } from './tandem/admin/v1/ListConfigResponse.js';
import type { MetricsRequest as _tandem_admin_v1_MetricsRequest, MetricsRequest__Output as _tandem_admin_v1_MetricsRequest__Output } from './tandem/admin/v1/MetricsRequest.js';
import type { MetricsResponse as _tandem_admin_v1_MetricsResponse, MetricsResponse__Output as _tandem_admin_v1_MetricsResponse__Output } from './tandem/admin/v1/MetricsResponse.js';
import type { NodeInfo as _tandem_admin_v1_NodeInfo, NodeInfo__Output as _tandem_admin_v1_NodeInfo__Output } from './tandem/admin/v1/NodeInfo.js';
import type { NodeStatus as _tandem_admin_v1_NodeStatus, NodeStatus__Output as _tandem_admin_v1_NodeStatus__Output } from './tandem/admin/v1/NodeStatus.js';
import type { NodeStatusRequest as _tandem_admin_v1_NodeStatusRequest, NodeStatusRequest__Output as _tandem_admin_v1_NodeStatusRequest__Output } from './tandem/admin/v1/NodeStatusRequest.js';
import type { NodeVolume as _tandem_admin_v1_NodeVolume, NodeVolume__Output as _tandem_admin_v1_NodeVolume__Output } from './tandem/admin/v1/NodeVolume.js';
import type { PeerState as _tandem_admin_v1_PeerState, PeerState__Output as _tandem_admin_v1_PeerState__Output } from './tandem/admin/v1/PeerState.js';
import type { PortGroupState as _tandem_admin_v1_PortGroupState, PortGroupState__Output as _tandem_admin_v1_PortGroupState__Output } from './tandem/admin/v1/PortGroupState.js';
import type { PutConfigRequest as _tandem_admin_v1_PutConfigRequest, PutConfigRequest__Output as _tandem_admin_v1_PutConfigRequest__Output } from './tandem/admin/v1/PutConfigRequest.js';
import type { PutConfigResponse as _tandem_admin_v1_PutConfigResponse, PutConfigResponse__Output as _tandem_admin_v1_PutConfigResponse__Output } from './tandem/admin/v1/PutConfigResponse.js';
import type { ReplicaState as _tandem_admin_v1_ReplicaState, ReplicaState__Output as _tandem_admin_v1_ReplicaState__Output } from './tandem/admin/v1/ReplicaState.js';
import type { Replication as _tandem_admin_v1_Replication, Replication__Output as _tandem_admin_v1_Replication__Output } from './tandem/admin/v1/Replication.js';
import type { Session as _tandem_admin_v1_Session, Session__Output as _tandem_admin_v1_Session__Output } from './tandem/admin/v1/Session.js';
import type { StatusRequest as _tandem_admin_v1_StatusRequest, StatusRequest__Output as _tandem_admin_v1_StatusRequest__Output } from './tandem/admin/v1/StatusRequest.js';
import type { SwitchoverRequest as _tandem_admin_v1_SwitchoverRequest, SwitchoverRequest__Output as _tandem_admin_v1_SwitchoverRequest__Output } from './tandem/admin/v1/SwitchoverRequest.js';
import type { SwitchoverResponse as _tandem_admin_v1_SwitchoverResponse, SwitchoverResponse__Output as _tandem_admin_v1_SwitchoverResponse__Output } from './tandem/admin/v1/SwitchoverResponse.js';
import type { VerifyMessage as _tandem_admin_v1_VerifyMessage, VerifyMessage__Output as _tandem_admin_v1_VerifyMessage__Output } from './tandem/admin/v1/VerifyMessage.js';
import type { VerifyProgress as _tandem_admin_v1_VerifyProgress, VerifyProgress__Output as _tandem_admin_v1_VerifyProgress__Output } from './tandem/admin/v1/VerifyProgress.js';
import type { VerifyRequest as _tandem_admin_v1_VerifyRequest, VerifyRequest__Output as _tandem_admin_v1_VerifyRequest__Output } from './tandem/admin/v1/VerifyRequest.js';
import type { VerifyResult as _tandem_admin_v1_VerifyResult, VerifyResult__Output as _tandem_admin_v1_VerifyResult__Output } from './tandem/admin/v1/VerifyResult.js';
import type { VolumeRecovery as _tandem_admin_v1_VolumeRecovery, VolumeRecovery__Output as _tandem_admin_v1_VolumeRecovery__Output } from './tandem/admin/v1/VolumeRecovery.js';
import type { VolumeStatus as _tandem_admin_v1_VolumeStatus, VolumeStatus__Output as _tandem_admin_v1_VolumeStatus__Output } from './tandem/admin/v1/VolumeStatus.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tandem: {
    admin: {
      v1: {
        Admin: SubtypeConstructor<typeof grpc.Client, _tandem_admin_v1_AdminClient> & { service: _tandem_admin_v1_AdminDefinition }
        ClusterStatus: MessageTypeDefinition<_tandem_admin_v1_ClusterStatus, _tandem_admin_v1_ClusterStatus__Output>
        ConfigEntry: MessageTypeDefinition<_tandem_admin_v1_ConfigEntry, _tandem_admin_v1_ConfigEntry__Output>
        DataGeneration: MessageTypeDefinition<_tandem_admin_v1_DataGeneration, _tandem_admin_v1_DataGeneration__Output>
        DeleteConfigRequest: MessageTypeDefinition<_tandem_admin_v1_DeleteConfigRequest, _tandem_admin_v1_DeleteConfigRequest__Output>
        DeleteConfigResponse: MessageTypeDefinition<_tandem_admin_v1_DeleteConfigResponse, _tandem_admin_v1_DeleteConfigResponse__Output>
        DifferingRegion: MessageTypeDefinition<_tandem_admin_v1_DifferingRegion, _tandem_admin_v1_DifferingRegion__Output>
        ExportConfigRequest: MessageTypeDefinition<_tandem_admin_v1_ExportConfigRequest, _tandem_admin_v1_ExportConfigRequest__Output>
        ExportConfigResponse: MessageTypeDefinition<_tandem_admin_v1_ExportConfigResponse, _tandem_admin_v1_ExportConfigResponse__Output>
        GetConfigRequest: MessageTypeDefinition<_tandem_admin_v1_GetConfigRequest, _tandem_admin_v1_GetConfigRequest__Output>
        ImportConfigRequest: MessageTypeDefinition<_tandem_admin_v1_ImportConfigRequest, _tandem_admin_v1_ImportConfigRequest__Output>
        ImportConfigResponse: MessageTypeDefinition<_tandem_admin_v1_ImportConfigResponse, _tandem_admin_v1_ImportConfigResponse__Output>
        ListConfigRequest: MessageTypeDefinition<_tandem_admin_v1_ListConfigRequest, _tandem_admin_v1_ListConfigRequest__Output>
        ListConfigResponse: MessageTypeDefinition<_tandem_admin_v1_ListConfigResponse, _tandem_admin_v1_ListConfigResponse__Output>
        MetricsRequest: MessageTypeDefinition<_tandem_admin_v1_MetricsRequest, _tandem_admin_v1_MetricsRequest__Output>
        MetricsResponse: MessageTypeDefinition<_tandem_admin_v1_MetricsResponse, _tandem_admin_v1_MetricsResponse__Output>
        NodeInfo: MessageTypeDefinition<_tandem_admin_v1_NodeInfo, _tandem_admin_v1_NodeInfo__Output>
        NodeStatus: MessageTypeDefinition<_tandem_admin_v1_NodeStatus, _tandem_admin_v1_NodeStatus__Output>
        NodeStatusRequest: MessageTypeDefinition<_tandem_admin_v1_NodeStatusRequest, _tandem_admin_v1_NodeStatusRequest__Output>
        NodeVolume: MessageTypeDefinition<_tandem_admin_v1_NodeVolume, _tandem_admin_v1_NodeVolume__Output>
        PeerState: MessageTypeDefinition<_tandem_admin_v1_PeerState, _tandem_admin_v1_PeerState__Output>
        PortGroupState: MessageTypeDefinition<_tandem_admin_v1_PortGroupState, _tandem_admin_v1_PortGroupState__Output>
        PutConfigRequest: MessageTypeDefinition<_tandem_admin_v1_PutConfigRequest, _tandem_admin_v1_PutConfigRequest__Output>
        PutConfigResponse: MessageTypeDefinition<_tandem_admin_v1_PutConfigResponse, _tandem_admin_v1_PutConfigResponse__Output>
        ReplicaState: MessageTypeDefinition<_tandem_admin_v1_ReplicaState, _tandem_admin_v1_ReplicaState__Output>
        Replication: MessageTypeDefinition<_tandem_admin_v1_Replication, _tandem_admin_v1_Replication__Output>
        Session: MessageTypeDefinition<_tandem_admin_v1_Session, _tandem_admin_v1_Session__Output>
        StatusRequest: MessageTypeDefinition<_tandem_admin_v1_StatusRequest, _tandem_admin_v1_StatusRequest__Output>
        SwitchoverRequest: MessageTypeDefinition<_tandem_admin_v1_SwitchoverRequest, _tandem_admin_v1_SwitchoverRequest__Output>
        SwitchoverResponse: MessageTypeDefinition<_tandem_admin_v1_SwitchoverResponse, _tandem_admin_v1_SwitchoverResponse__Output>
        VerifyMessage: MessageTypeDefinition<_tandem_admin_v1_VerifyMessage, _tandem_admin_v1_VerifyMessage__Output>
        VerifyProgress: MessageTypeDefinition<_tandem_admin_v1_VerifyProgress, _tandem_admin_v1_VerifyProgress__Output>
        VerifyRequest: MessageTypeDefinition<_tandem_admin_v1_VerifyRequest, _tandem_admin_v1_VerifyRequest__Output>
        VerifyResult: MessageTypeDefinition<_tandem_admin_v1_VerifyResult, _tandem_admin_v1_VerifyResult__Output>
        VolumeRecovery: MessageTypeDefinition<_tandem_admin_v1_VolumeRecovery, _tandem_admin_v1_VolumeRecovery__Output>
        VolumeStatus: MessageTypeDefinition<_tandem_admin_v1_VolumeStatus, _tandem_admin_v1_VolumeStatus__Output>
      }
    }
  }
}

