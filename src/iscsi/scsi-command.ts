import type { TaskAttributeCode } from '../scsi/spec/status.js';
import type { ConnectionPort } from './connection-port.js';
import {
  BhsFlag,
  decodeLun,
  field32,
  finalBit,
  itt as ittOf,
  type Pdu,
  RejectReason,
  TASK_ATTRIBUTE_MASK,
} from './pdu/bhs.js';
import { releasePduData } from './pdu-reader.js';
import type { Session } from './session.js';
import type { StageClock } from './stage-clock.js';
import { DataSequenceError, IscsiTask, type R2tSender } from './task.js';

const EMPTY = Buffer.alloc(0);

/** commandTask's answer when the session's share of the task set is full (SAM-5 5.3.3). */
export const TASK_SET_FULL = -1;

/**
 * A SCSI Command PDU (RFC 7143 11.3) made into the task that carries it through the engine, or
 * why it cannot run: a Reject reason (RFC 7143 11.17.1), or TASK_SET_FULL.
 * `running`: the tasks this connection holds (MaxConnections=1: the session's).
 */
export function commandTask(
  pdu: Pdu,
  cmdSN: number,
  s: Session,
  running: ReadonlyMap<number, IscsiTask>,
  maxTasks: number,
  sender: R2tSender,
): IscsiTask | number {
  const bhs = pdu.bhs;
  // RFC 7143 4.3: a discovery session carries only Text, NOP and Logout.
  if (s.type !== 'Normal' || !s.target || !s.nexus) return RejectReason.PROTOCOL_ERROR;
  const itt = ittOf(bhs);
  const read = (bhs[1]! & BhsFlag.READ) !== 0;
  const write = (bhs[1]! & BhsFlag.WRITE) !== 0;
  const edtl = field32(bhs, 20);
  const p = s.params;
  if (running.has(itt)) return RejectReason.TASK_IN_PROGRESS;
  if (
    pdu.data.length > 0 &&
    (!write || !p.immediateData || pdu.data.length > Math.min(p.firstBurstLength, edtl))
  ) {
    // Immediate data the negotiation did not allow (RFC 7143 11.3.2, 13.12).
    return RejectReason.PROTOCOL_ERROR;
  }
  let cdb = bhs.subarray(32, 48);
  if (pdu.ahs.length > 0) {
    const ext = extendedCdb(pdu.ahs);
    if (ext === undefined) return RejectReason.INVALID_PDU_FIELD;
    cdb = Buffer.concat([cdb, ext]);
  }
  if (running.size >= maxTasks) return TASK_SET_FULL;
  return new IscsiTask(
    {
      itt,
      cmdSN,
      lun: decodeLun(bhs),
      lunBytes: Buffer.from(bhs.subarray(8, 16)),
      cdb: Buffer.from(cdb),
      attribute: (bhs[1]! & TASK_ATTRIBUTE_MASK) as TaskAttributeCode,
      expectedLength: edtl,
      read,
      write,
      nexus: s.nexus,
      // Received bytes are never reused by the socket: the data can be kept without a copy.
      immediateData: pdu.data,
      immediatePooled: pdu.pooled ?? false,
      // F = 1 says no unsolicited Data-Out follows the immediate data (RFC 7143 11.3.1).
      unsolicitedLimit: write
        ? p.initialR2T || finalBit(bhs)
          ? pdu.data.length
          : Math.min(p.firstBurstLength, edtl)
        : 0,
      maxBurstLength: p.maxBurstLength,
      maxOutstandingR2T: p.maxOutstandingR2T,
    },
    sender,
  );
}

/** A SCSI Data-Out PDU (RFC 7143 11.7): its task owns the data from here, whatever it makes of it. */
export function onDataOut(port: ConnectionPort, stages: StageClock, pdu: Pdu): void {
  const bhs = pdu.bhs;
  const itt = ittOf(bhs);
  const task = port.task(itt);
  if (!task) {
    // Late data for a task that already ended (aborted, or answered early with CHECK
    // CONDITION): RFC 7143 allows the target to discard it.
    releasePduData(pdu);
    return;
  }
  try {
    task.onDataOut(field32(bhs, 20), field32(bhs, 36), field32(bhs, 40), pdu.data, pdu.pooled ?? false);
    stages.dataOut(task);
  } catch (err) {
    if (!(err instanceof DataSequenceError)) throw err;
    port.log.warn({ itt, err: err.message }, 'Data-Out out of sequence: PDU rejected, task fails');
    port.reject(RejectReason.PROTOCOL_ERROR, bhs);
  }
}

/** The Extended CDB AHS (RFC 7143 11.3.4.2, type 1) holds CDB bytes 16 and up. */
function extendedCdb(ahs: Buffer): Buffer | undefined {
  let off = 0;
  let ext: Buffer | undefined = EMPTY;
  while (off + 4 <= ahs.length) {
    const len = ahs.readUInt16BE(off);
    const type = ahs[off + 2]!;
    if (off + 3 + len > ahs.length) return undefined;
    if (type === 1) ext = Buffer.from(ahs.subarray(off + 4, off + 3 + len));
    else if (type !== 2) return undefined;
    off += 4 + ((len - 1 + 3) & ~3);
  }
  return ext;
}
