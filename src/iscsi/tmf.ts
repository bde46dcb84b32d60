import { TmfFunction, TmfResponse } from '../scsi/command.js';
import type { CommandWindow } from './command-window.js';
import type { ConnectionPort } from './connection-port.js';
import { decodeLun, FUNCTION_MASK, field32, itt as ittOf, type Pdu, RejectReason } from './pdu/bhs.js';
import * as out from './pdu/target-pdus.js';

/** TASK REASSIGN (RFC 7143 11.5.1): needs ErrorRecoveryLevel 2. */
const TASK_REASSIGN = 8;

/**
 * A Task Management Function Request (RFC 7143 11.5): ABORT TASK of a command still ahead in
 * the CmdSN window is the window's; everything else goes to the engine, whose answer becomes
 * the TMF response (none once the connection left full feature phase).
 */
export function onTmf(port: ConnectionPort, window: CommandWindow, pdu: Pdu): void {
  const s = port.session;
  const bhs = pdu.bhs;
  const itt = ittOf(bhs);
  const fn = bhs[1]! & FUNCTION_MASK;
  const respond = (response: number) => {
    if (!port.fullFeature) return;
    port.send(out.tmfResponse({ itt, response }, port.seq(true)));
  };
  if (!s.target || !s.nexus) {
    port.reject(RejectReason.PROTOCOL_ERROR, bhs);
    return;
  }
  if (fn === TASK_REASSIGN) {
    respond(TmfResponse.TASK_ALLEGIANCE_REASSIGNMENT_NOT_SUPPORTED);
    return;
  }
  const lun = decodeLun(bhs);
  const referencedTag = field32(bhs, 20);
  if (fn === TmfFunction.ABORT_TASK && port.task(referencedTag) === undefined) {
    respond(window.abortUnseen(s, field32(bhs, 24), field32(bhs, 32)));
    return;
  }
  s.target.engine
    .taskManagement({ nexus: s.nexus, fn: fn as never, lun, referencedTag })
    .then(respond, (err) => {
      port.log.error({ err }, 'task management failed');
      respond(TmfResponse.FUNCTION_REJECTED);
    });
}
