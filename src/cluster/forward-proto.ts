import type * as grpc from '@grpc/grpc-js';
import type { ForwardedCommand, ForwardedCompletion } from '../scsi/forwarding.js';
import type { TaskAttributeCode } from '../scsi/spec/status.js';
import { loadProtoPackage } from '../util/proto.js';

/**
 * proto/tandem/forward/v1/forward.proto, loaded at run time with @grpc/proto-loader: the one
 * way Tandem uses protobuf (no generated code to keep in sync). The message shapes below mirror
 * the .proto (camelCase, as proto-loader presents them with keepCase: false).
 */

export const FORWARD_PROTO = 'tandem/forward/v1/forward.proto';

export interface NexusMessage {
  initiatorName: string;
  isid: string;
  relativePortId: number;
  targetPortGroupId: number;
  targetPortName: string;
  targetName: string;
  instance: string;
}

export interface ExecuteRequest {
  id: string;
  originNode: string;
  volume: string;
  lun: number;
  nexus: NexusMessage | null;
  tag: number;
  cdb: Buffer;
  taskAttribute: number;
  expectedLength: number;
  readExpected: boolean;
  writeExpected: boolean;
  dataOut: Buffer;
}

export interface ExecuteResponse {
  id: string;
  status: number;
  sense: Buffer;
  data: Buffer;
  transferLength: number;
  aborted: boolean;
  hasData: boolean;
}

export interface AbortRequest {
  id: string;
  originNode: string;
}

/** One message from the forwarding node on the Commands stream (a oneof). */
export interface ForwarderMessage {
  execute?: ExecuteRequest | null;
  abort?: AbortRequest | null;
  kind?: 'execute' | 'abort';
}

export interface ResetRequest {
  originNode: string;
  volume: string;
  unitAttention: string;
}

export interface ResetResponse {
  found: boolean;
}

export interface ForwardServiceClient extends grpc.Client {
  Reset(
    req: ResetRequest,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: ResetResponse) => void,
  ): grpc.ClientUnaryCall;
  Commands(options?: grpc.CallOptions): grpc.ClientDuplexStream<ForwarderMessage, ExecuteResponse>;
}

interface ForwardPackage {
  Forward: grpc.ServiceClientConstructor;
}

let loaded: ForwardPackage | undefined;

export function forwardPackage(): ForwardPackage {
  loaded ??= loadProtoPackage<ForwardPackage>(FORWARD_PROTO, 'tandem.forward.v1');
  return loaded;
}

export function toRequest(fc: ForwardedCommand, originNode: string): ExecuteRequest {
  return {
    id: fc.id,
    originNode,
    volume: fc.volume,
    lun: fc.lun,
    nexus: { ...fc.nexus },
    tag: fc.tag >>> 0,
    cdb: fc.cdb,
    taskAttribute: fc.attribute,
    expectedLength: fc.expectedLength,
    readExpected: fc.readExpected,
    writeExpected: fc.writeExpected,
    dataOut: fc.dataOut,
  };
}

export function fromRequest(req: ExecuteRequest): ForwardedCommand {
  const n = req.nexus;
  if (!n || !/^[0-9a-f]{12}$/.test(n.isid) || req.cdb.length === 0) {
    throw new Error('malformed forwarded command');
  }
  return {
    id: req.id,
    volume: req.volume,
    lun: req.lun,
    nexus: {
      initiatorName: n.initiatorName,
      isid: n.isid,
      relativePortId: n.relativePortId,
      targetPortGroupId: n.targetPortGroupId,
      targetPortName: n.targetPortName,
      targetName: n.targetName,
      instance: n.instance,
    },
    tag: req.tag,
    cdb: req.cdb,
    attribute: req.taskAttribute as TaskAttributeCode,
    expectedLength: req.expectedLength,
    readExpected: req.readExpected,
    writeExpected: req.writeExpected,
    dataOut: req.dataOut,
  };
}

const NONE = Buffer.alloc(0);

export function toResponse(id: string, c: ForwardedCompletion): ExecuteResponse {
  return {
    id,
    status: c.status,
    sense: c.sense ?? NONE,
    data: c.data ?? NONE,
    transferLength: c.transferLength,
    aborted: c.aborted ?? false,
    hasData: c.data !== undefined,
  };
}

export function fromResponse(res: ExecuteResponse): ForwardedCompletion {
  return {
    status: res.status,
    ...(res.sense.length > 0 ? { sense: res.sense } : {}),
    ...(res.hasData ? { data: res.data } : {}),
    transferLength: res.transferLength,
    ...(res.aborted ? { aborted: true } : {}),
  };
}
