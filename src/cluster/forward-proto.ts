import type * as grpc from '@grpc/grpc-js';
import type { AbortRequest__Output } from '../gen/tandem/forward/v1/AbortRequest.js';
import type { ExecuteRequest__Output } from '../gen/tandem/forward/v1/ExecuteRequest.js';
import type { ExecuteResponse__Output } from '../gen/tandem/forward/v1/ExecuteResponse.js';
import type { ForwarderMessage__Output } from '../gen/tandem/forward/v1/ForwarderMessage.js';
import type { Nexus__Output } from '../gen/tandem/forward/v1/Nexus.js';
import type { ResetRequest__Output } from '../gen/tandem/forward/v1/ResetRequest.js';
import type { ResetResponse__Output } from '../gen/tandem/forward/v1/ResetResponse.js';
import type { ForwardedCommand, ForwardedCompletion } from '../scsi/forwarding.js';
import type { TaskAttributeCode } from '../scsi/spec/status.js';
import { loadService } from '../util/proto.js';

/**
 * proto/tandem/forward/v1/forward.proto: its message types are generated (src/gen/,
 * `npm run proto`); these are the names the forwarding code uses for them.
 */

export const FORWARD_PROTO = 'tandem/forward/v1/forward.proto';

export type NexusMessage = Nexus__Output;
export type ExecuteRequest = ExecuteRequest__Output;
export type ExecuteResponse = ExecuteResponse__Output;
export type AbortRequest = AbortRequest__Output;
/** One message from the forwarding node on the Commands stream (a oneof). */
export type ForwarderMessage = ForwarderMessage__Output;
export type ResetRequest = ResetRequest__Output;
export type ResetResponse = ResetResponse__Output;

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
  loaded ??= { Forward: loadService(FORWARD_PROTO, 'tandem.forward.v1.Forward') };
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
