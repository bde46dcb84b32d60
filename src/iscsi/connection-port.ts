import type { Logger } from '../util/logger.js';
import type { Pdu } from './pdu/bhs.js';
import type { SeqFields } from './pdu/target-pdus.js';
import type { Session } from './session.js';
import type { IscsiTask } from './task.js';

/**
 * What the full-feature handlers (admission, TMF, logout, NOP) see of their connection: the
 * session, the tasks it runs, the send side with its numbering, dispatch. The connection
 * provides one, once.
 */
export interface ConnectionPort {
  /** The connection is in full feature phase (it answers PDUs). */
  readonly fullFeature: boolean;
  readonly session: Session;
  readonly log: Logger;
  readonly cid: number;
  task(itt: number): IscsiTask | undefined;
  tasks(): IterableIterator<IscsiTask>;
  /** Whether `task` is still outstanding on this connection. */
  hasTask(task: IscsiTask): boolean;
  send(hdr: Buffer, data?: Buffer): void;
  /** StatSN/ExpCmdSN/MaxCmdSN for an outgoing PDU; `advance` consumes a StatSN. */
  seq(advance: boolean): SeqFields;
  reject(reason: number, bhs: Buffer): void;
  /** The connection reached its end (nothing is read or answered any more). */
  readonly closed: boolean;
  close(reason: string): void;
  /** Ends the connection after the output queued so far is sent. */
  end(reason: string): void;
  /** A PDU the reader yielded (full feature phase: through the memory budget). */
  admit(pdu: Pdu): void;
  /** Nothing of this connection runs: no task, no Data-In still queued. */
  readonly idle: boolean;
  /** Commands waiting in the CmdSN window for an earlier one. */
  readonly waiting: number;
  /** Hands a full-feature PDU to its handler (through the CmdSN window). */
  dispatch(pdu: Pdu): void;
  /** A PDU handler threw (the connection decides what that costs). */
  failed(err: unknown): void;
  /** Reads on from what the socket delivered while PDUs waited. */
  pump(): void;
  /**
   * Ends the session's I_T nexus in the engine now (a logout: MaxConnections is 1); resolves
   * once its SPC-2 reservation has ended on every node. Once per session.
   */
  endNexus(): Promise<void>;
}
