import type { ConnectionPort } from './connection-port.js';
import { FUNCTION_MASK, itt as ittOf, type Pdu } from './pdu/bhs.js';
import * as out from './pdu/target-pdus.js';
import type { IscsiTask } from './task.js';

/** Logout Request reason codes and Logout Response codes (RFC 7143 11.14.1, 11.15.1). */
const LogoutReason = { CLOSE_SESSION: 0, CLOSE_CONNECTION: 1, REMOVE_FOR_RECOVERY: 2 } as const;
const LogoutResponse = { CLOSED: 0, CID_NOT_FOUND: 1, RECOVERY_NOT_SUPPORTED: 2 } as const;

/**
 * A Logout Request (RFC 7143 11.14): answered once the connection's outstanding tasks have
 * answered; `loggedOut` runs after a successful Logout Response was queued (the connection
 * then ends).
 */
export function onLogout(port: ConnectionPort, pdu: Pdu, loggedOut: () => void): void {
  const bhs = pdu.bhs;
  const itt = ittOf(bhs);
  const reasonCode = bhs[1]! & FUNCTION_MASK;
  const cid = bhs.readUInt16BE(20);
  const s = port.session;
  let response: number = LogoutResponse.CLOSED;
  if (reasonCode === LogoutReason.REMOVE_FOR_RECOVERY)
    response = LogoutResponse.RECOVERY_NOT_SUPPORTED; // connection recovery needs ERL 2
  else if (reasonCode === LogoutReason.CLOSE_CONNECTION && cid !== port.cid)
    response = LogoutResponse.CID_NOT_FOUND;
  // Answer after the outstanding tasks have answered (RFC 7143 11.14).
  const pending = [...port.tasks()];
  // RFC 7143 11.14: commands still waiting for data cannot finish; logout terminates them.
  if (response === LogoutResponse.CLOSED) for (const t of pending) if (t.awaitingDataOut) t.abort();
  const send = () => {
    if (!port.fullFeature) return;
    port.send(
      out.logoutResponse(
        { itt, response, time2wait: s.params.defaultTime2Wait, time2retain: 0 },
        port.seq(true),
      ),
    );
    if (response === LogoutResponse.CLOSED) loggedOut();
  };
  if (response !== LogoutResponse.CLOSED) {
    send();
    return;
  }
  // The session ends with this connection (MaxConnections = 1): what ends with the I_T nexus
  // (its SPC-2 reservation, SPC-2 5.5.1) has ended on every node before the initiator hears
  // "closed" — a login that follows through another node must not find it still held. Bounded:
  // a slow etcd delays the answer, the release goes on after it.
  void waitForTasks(port, pending)
    .then(() => withDeadline(port.endNexus(), NEXUS_END_WAIT_MS))
    .then(send);
}

/** How long a Logout Response waits for the nexus's reservation to be released everywhere. */
const NEXUS_END_WAIT_MS = 5000;

function withDeadline(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Resolves when none of `tasks` is outstanding on the connection any more. */
function waitForTasks(port: ConnectionPort, tasks: IscsiTask[]): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!port.fullFeature || tasks.every((t) => !port.hasTask(t))) resolve();
      else setTimeout(check, 5);
    };
    check();
  });
}
