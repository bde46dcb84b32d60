// A Logout Response that says "closed" comes after what ends with the I_T nexus has ended
// (SPC-2 5.5.1: its RESERVE(6) reservation). Found by the forwarded conformance run under load
// (SCSI.Reserve6.Logout, .ITNexusLoss): the release ran after the answer, on the forwarding
// node, and the initiator's next login through the primary still met RESERVATION CONFLICT.
import { describe, expect, it } from 'vitest';
import type { ConnectionPort } from '../../../src/iscsi/connection-port.js';
import { onLogout } from '../../../src/iscsi/logout.js';
import type { Pdu } from '../../../src/iscsi/pdu/bhs.js';
import { silentLogger } from '../../../src/util/logger.js';
import { buildLogoutRequest } from '../../helpers/initiator/pdu.js';

const LOGOUT_RESPONSE = 0x26;

function port(endNexus: () => Promise<void>) {
  const sent: Buffer[] = [];
  let loggedOut = 0;
  const p = {
    fullFeature: true,
    session: { params: { defaultTime2Wait: 2 } },
    log: silentLogger(),
    cid: 0,
    tasks: () => [][Symbol.iterator](),
    hasTask: () => false,
    send: (hdr: Buffer) => void sent.push(hdr),
    seq: () => ({ statSN: 1, expCmdSN: 1, maxCmdSN: 1 }),
    endNexus,
  } as unknown as ConnectionPort;
  return { p, sent, loggedOut: () => loggedOut, done: () => void loggedOut++ };
}

function request(reason: number): Pdu {
  const { bhs } = buildLogoutRequest({ reason, itt: 7, cid: 0, cmdSN: 1, expStatSN: 1 });
  return { bhs, ahs: Buffer.alloc(0), data: Buffer.alloc(0) } as Pdu;
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('Logout', () => {
  it('closing the session: the response waits until the nexus has ended, then says closed (0)', async () => {
    let release!: () => void;
    const ended = new Promise<void>((r) => (release = r));
    let asked = 0;
    const t = port(() => {
      asked++;
      return ended;
    });
    onLogout(t.p, request(0), t.done);
    await tick();
    expect(asked).toBe(1);
    expect(t.sent).toEqual([]);
    release();
    await tick();
    expect(t.sent.length).toBe(1);
    expect(t.sent[0]![0]! & 0x3f).toBe(LOGOUT_RESPONSE);
    expect(t.sent[0]![2]).toBe(0);
    expect(t.loggedOut()).toBe(1);
  });

  it('a connection-recovery logout is answered at once (2: not supported) and ends nothing', async () => {
    let asked = 0;
    const t = port(async () => void asked++);
    onLogout(t.p, request(2), t.done);
    expect(t.sent.length).toBe(1);
    expect(t.sent[0]![2]).toBe(2);
    await tick();
    expect(asked).toBe(0);
    expect(t.loggedOut()).toBe(0);
  });
});
