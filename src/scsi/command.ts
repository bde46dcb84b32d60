import type { CommandObserver } from './observer.js';
import type { TaskAttributeCode } from './spec/status.js';

/**
 * The SCSI engine's contract with any transport (iSCSI today; a loopback test transport or
 * iSER tomorrow). Nothing here knows about PDUs.
 */

/** A relative target port: one portal group of one node (SPC-4 3.1.120). */
export interface TargetPort {
  /** Cluster-unique relative target port identifier (1..65535). */
  readonly relativePortId: number;
  /** SCSI target port group this port belongs to (ALUA). */
  readonly targetPortGroupId: number;
  /** SCSI name of the target port: `<target iqn>,t,0x<tpgt hex4>` (RFC 7143 13.1). */
  readonly name: string;
  /** SCSI target device name (the target IQN). */
  readonly targetName: string;
}

/** An I_T nexus (SAM-5 3.1.50): initiator port × target port. */
export interface ItNexus {
  /** Stable key: initiator port name + '|' + relative target port id. */
  readonly id: string;
  /** Initiator port name: `<initiator iqn>,i,0x<isid hex12>` (RFC 7143 13.1). */
  readonly initiatorPortName: string;
  /** Initiator device name (IQN). */
  readonly initiatorName: string;
  /** ISID, 6 bytes, as hex. */
  readonly isid: string;
  readonly targetPort: TargetPort;
}

export type DataDirection = 'none' | 'in' | 'out';

/** A command as the transport hands it to the engine. */
export interface TransportCommand {
  readonly nexus: ItNexus;
  /** Decoded LUN (SAM-5 4.6: peripheral or flat addressing). */
  readonly lun: number;
  /** Initiator task tag, unique per nexus while the task lives. */
  readonly tag: number;
  readonly cdb: Buffer;
  readonly attribute: TaskAttributeCode;
  /** The initiator's expected data transfer length (EDTL), for whichever direction it set. */
  readonly expectedLength: number;
  /** Directions the initiator announced (iSCSI R/W bits). */
  readonly readExpected: boolean;
  readonly writeExpected: boolean;
  /**
   * Set when a task management function or the loss of the nexus aborts the task (an
   * AbortSignal fits; the iSCSI transport uses a plain flag, which is far cheaper per command).
   */
  readonly signal: { readonly aborted: boolean };
  /**
   * performance.now() when the command's first PDU header arrived, for the receive stage
   * (absent or 0: the transport does not stamp; the engine then reports no receive stage).
   */
  readonly arrivedAt?: number;
  /** performance.now() when the last of its data-out arrived (absent or 0: none came). */
  readonly dataOutAt?: number;
  /** The engine aborts the task: the transport fires `signal` and sends no response. */
  abort(): void;
  /**
   * Fetches exactly `length` bytes of data-out (length ≤ expectedLength): immediate data,
   * unsolicited data, then data the transport solicits. Rejects if the task is aborted.
   */
  receiveDataOut(length: number): Promise<Buffer>;
}

/** What the engine answers. */
export interface Completion {
  readonly status: number;
  /** Sense data (already encoded) when status is CHECK CONDITION. */
  readonly sense?: Buffer;
  /** Data-in for the initiator (the transport sends at most expectedLength of it). */
  readonly data?: Buffer;
  /**
   * The SCSI transfer length in bytes the command called for (data-in: after the allocation
   * length is applied; data-out: the CDB's transfer length). The transport derives residuals
   * from it and EDTL (RFC 7143 11.4.5).
   */
  readonly transferLength: number;
  /** The task was aborted: the transport sends no response for it (RFC 7143 11.5.1). */
  readonly aborted?: boolean;
  /**
   * Whether the command ran is unknown (forwarded, then the primary's answer was lost): the
   * transport sends no response and ends the nexus's connection, so the initiator recovers
   * as after a connection loss, which leaves the outcome unknown to it too (SAM-5 5.4,
   * RFC 7143 7.1). `status` is only a fallback for callers that do not send responses.
   */
  readonly outcomeUnknown?: boolean;
  /** Returns `data`'s memory to its pool once the transport has sent it. */
  readonly release?: () => void;
}

export const TmfFunction = {
  ABORT_TASK: 1,
  ABORT_TASK_SET: 2,
  CLEAR_ACA: 3,
  CLEAR_TASK_SET: 4,
  LOGICAL_UNIT_RESET: 5,
  TARGET_WARM_RESET: 6,
  TARGET_COLD_RESET: 7,
  TASK_REASSIGN: 8,
  QUERY_TASK: 9,
  QUERY_TASK_SET: 10,
  I_T_NEXUS_RESET: 11,
  QUERY_ASYNCHRONOUS_EVENT: 12,
} as const;
export type TmfFunctionCode = (typeof TmfFunction)[keyof typeof TmfFunction];

/** RFC 7143 11.6.1 / SAM-5 7.1 service responses of a task management function. */
export const TmfResponse = {
  FUNCTION_COMPLETE: 0,
  TASK_DOES_NOT_EXIST: 1,
  LUN_DOES_NOT_EXIST: 2,
  TASK_STILL_ALLEGIANT: 3,
  TASK_ALLEGIANCE_REASSIGNMENT_NOT_SUPPORTED: 4,
  FUNCTION_NOT_SUPPORTED: 5,
  FUNCTION_AUTHORIZATION_FAILED: 6,
  FUNCTION_REJECTED: 255,
} as const;
export type TmfResponseCode = (typeof TmfResponse)[keyof typeof TmfResponse];

export interface TmfRequest {
  readonly nexus: ItNexus;
  readonly fn: TmfFunctionCode;
  readonly lun: number;
  /** Referenced task tag for ABORT TASK / QUERY TASK. */
  readonly referencedTag?: number;
}

/** The engine as the transport sees it. */
export interface ScsiEngine {
  execute(cmd: TransportCommand): Promise<Completion>;
  taskManagement(req: TmfRequest): Promise<TmfResponseCode>;
  /**
   * The nexus has no more connection (session closed or reinstated): drop its tasks. Resolves
   * once what ends with the nexus (its SPC-2 reservation, on every node) has ended; never rejects.
   */
  nexusLost(nexus: ItNexus, reason: 'logout' | 'reinstatement' | 'connection-loss'): Promise<void>;
  /** LUNs this nexus may see, ascending. */
  lunsFor(nexus: ItNexus): number[];
  /** Per-LU statistics; the transport reports its transmit stage here (undefined: none kept). */
  readonly observer?: CommandObserver | undefined;
}
