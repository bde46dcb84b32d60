// A scripted loopback "target" for unit-testing the test initiator's reactions to situations a
// real target rarely produces (closed CmdSN window, DataSN gaps, rejects, digest errors...).
import net from 'node:net';
import {
  buildBhs,
  encodePdu,
  Opcode,
  type OutgoingPdu,
  type RawPdu,
  RESERVED_TAG,
} from '../../../helpers/initiator/pdu.js';
import { PduReader } from '../../../helpers/initiator/pdu-reader.js';
import { decodeTextKeys, encodeTextKeys } from '../../../helpers/initiator/text-keys.js';

export interface FakeConn {
  readonly socket: net.Socket;
  /** Every PDU received from the initiator after login, in order. */
  readonly received: RawPdu[];
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  digests: { header: boolean; data: boolean };
  send(pdu: OutgoingPdu, opts?: { rawLengths?: boolean }): void;
  /** Fills StatSN/ExpCmdSN/MaxCmdSN (bytes 24..35) and advances StatSN when `advance`. */
  seq(bhs: Buffer, advance?: boolean): Buffer;
}

export interface FakeTargetOptions {
  /** Answer to the operational stage keys (default: echo each offer). */
  answer?: (key: string, offered: string) => string | undefined;
  /** Extra keys in the final login response, split across two PDUs with the C bit when set. */
  extraLoginKeys?: Array<[string, string]>;
  splitLoginResponse?: boolean;
  window?: number;
  loginStatus?: [number, number];
  onPdu?: (conn: FakeConn, pdu: RawPdu) => void;
}

export interface FakeTarget {
  readonly port: number;
  readonly conns: FakeConn[];
  close(): Promise<void>;
}

const FULL_FEATURE = 3;

export async function startFakeTarget(opts: FakeTargetOptions = {}): Promise<FakeTarget> {
  const conns: FakeConn[] = [];
  const server = net.createServer((socket) => {
    let loggedIn = false;
    const login: LoginState = { text: [] };
    const conn: FakeConn = {
      socket,
      received: [],
      statSN: 100,
      expCmdSN: 1,
      maxCmdSN: 1 + (opts.window ?? 64) - 1,
      digests: { header: false, data: false },
      send(pdu, o) {
        if (!socket.destroyed)
          socket.write(
            encodePdu(pdu, { headerDigest: conn.digests.header, dataDigest: conn.digests.data, ...o }),
          );
      },
      seq(bhs, advance = true) {
        bhs.writeUInt32BE(conn.statSN, 24);
        bhs.writeUInt32BE(conn.expCmdSN, 28);
        bhs.writeUInt32BE(conn.maxCmdSN, 32);
        if (advance) conn.statSN++;
        return bhs;
      },
    };
    conns.push(conn);
    socket.setNoDelay(true);
    const reader = new PduReader(() => conn.digests);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      for (let raw = reader.next(); raw; raw = reader.next()) {
        if (!loggedIn) {
          loggedIn = handleLogin(conn, raw, opts, login) === 'ffp';
          continue;
        }
        conn.received.push(raw);
        opts.onPdu?.(conn, raw);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (typeof addr !== 'object' || !addr) throw new Error('no address');
  return {
    port: addr.port,
    conns,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface LoginState {
  text: Buffer[];
  /** The second half of a login response split with the C bit. */
  rest?: Buffer;
  answers?: Array<[string, string]>;
}

function handleLogin(conn: FakeConn, raw: RawPdu, opts: FakeTargetOptions, st: LoginState): 'more' | 'ffp' {
  const b = raw.bhs;
  if ((b[0]! & 0x3f) !== Opcode.LoginRequest) throw new Error('expected a login request');
  const flags = b[1]!;
  const transit = (flags & 0x80) !== 0;
  const cont = (flags & 0x40) !== 0;
  const csg = (flags >> 2) & 3;
  const nsg = flags & 3;
  const itt = b.readUInt32BE(16);
  conn.expCmdSN = b.readUInt32BE(24);
  conn.maxCmdSN = conn.expCmdSN + (opts.window ?? 64) - 1;
  const respond = (
    t: boolean,
    c: boolean,
    stage: number,
    data: Buffer,
    status: [number, number] = [0, 0],
  ) => {
    const isidTsih = Buffer.alloc(8);
    b.copy(isidTsih, 0, 8, 14);
    isidTsih.writeUInt16BE(t && stage === FULL_FEATURE ? 0x1234 : 0, 6);
    const bhs = buildBhs({
      opcode: Opcode.LoginResponse,
      flags: (t ? 0x80 : 0) | (c ? 0x40 : 0) | (csg << 2) | (t ? stage : 0),
      lun: isidTsih,
      itt,
    });
    bhs[36] = status[0];
    bhs[37] = status[1];
    conn.send({ bhs: conn.seq(bhs), data });
  };
  const finish = (answers: Array<[string, string]>): 'ffp' => {
    for (const [k, v] of answers) {
      if (k === 'HeaderDigest') conn.digests.header = v === 'CRC32C';
      if (k === 'DataDigest') conn.digests.data = v === 'CRC32C';
    }
    return 'ffp';
  };
  if (st.rest) {
    respond(true, false, FULL_FEATURE, st.rest);
    return finish(st.answers ?? []);
  }
  st.text.push(raw.data);
  if (cont) {
    respond(false, false, 0, Buffer.alloc(0));
    return 'more';
  }
  const keys = decodeTextKeys(Buffer.concat(st.text));
  st.text = [];
  if (opts.loginStatus) {
    respond(false, false, 0, Buffer.alloc(0), opts.loginStatus);
    return 'more';
  }
  if (csg === 0) {
    respond(transit, false, nsg, encodeTextKeys([['AuthMethod', 'None']]));
    return 'more';
  }
  const answers: Array<[string, string]> = [];
  for (const [k, v] of keys) {
    if (['InitiatorName', 'SessionType', 'TargetName', 'MaxRecvDataSegmentLength'].includes(k)) continue;
    answers.push([k, opts.answer?.(k, v) ?? v.split(',')[0]!]);
  }
  answers.push(['MaxRecvDataSegmentLength', '8192'], ...(opts.extraLoginKeys ?? []));
  const payload = encodeTextKeys(answers);
  if (opts.splitLoginResponse) {
    // Split inside a key=value pair: C=1 first, the rest answers the empty follow-up request.
    const cut = Math.floor(payload.length / 2) + 1;
    st.rest = payload.subarray(cut);
    st.answers = answers;
    respond(false, true, 0, payload.subarray(0, cut));
    return 'more';
  }
  respond(true, false, FULL_FEATURE, payload);
  return finish(answers);
}

// ---------------------------------------------------------------------------------------------
// Target-side PDU builders for scripts.

export function scsiResponse(
  conn: FakeConn,
  itt: number,
  status: number,
  o: { sense?: Buffer; residual?: number; underflow?: boolean; overflow?: boolean; expDataSN?: number } = {},
): OutgoingPdu {
  const bhs = buildBhs({
    opcode: Opcode.ScsiResponse,
    flags: 0x80 | (o.overflow ? 0x04 : 0) | (o.underflow ? 0x02 : 0),
    byte3: status,
    itt,
    words: { 36: o.expDataSN ?? 0, 44: o.residual ?? 0 },
  });
  let data: Buffer | undefined;
  if (o.sense) {
    data = Buffer.alloc(2 + o.sense.length);
    data.writeUInt16BE(o.sense.length, 0);
    o.sense.copy(data, 2);
  }
  return { bhs: conn.seq(bhs), data };
}

export function dataIn(
  conn: FakeConn,
  itt: number,
  dataSN: number,
  offset: number,
  data: Buffer,
  o: { final?: boolean; status?: number; residual?: number; underflow?: boolean } = {},
): OutgoingPdu {
  const withStatus = o.status !== undefined;
  const bhs = buildBhs({
    opcode: Opcode.DataIn,
    flags: (o.final || withStatus ? 0x80 : 0) | (withStatus ? 0x01 : 0) | (o.underflow ? 0x02 : 0),
    byte3: o.status ?? 0,
    itt,
    words: { 20: RESERVED_TAG, 36: dataSN, 40: offset, 44: o.residual ?? 0 },
  });
  conn.seq(bhs, withStatus);
  return { bhs, data };
}

export function r2t(
  conn: FakeConn,
  itt: number,
  ttt: number,
  r2tSN: number,
  offset: number,
  length: number,
): OutgoingPdu {
  const bhs = buildBhs({
    opcode: Opcode.ReadyToTransfer,
    flags: 0x80,
    lun: 1,
    itt,
    words: { 20: ttt, 36: r2tSN, 40: offset, 44: length },
  });
  return { bhs: conn.seq(bhs, false) };
}

export function nopIn(conn: FakeConn, itt: number, ttt: number, data?: Buffer): OutgoingPdu {
  const bhs = buildBhs({ opcode: Opcode.NopIn, flags: 0x80, itt, words: { 20: ttt } });
  return { bhs: conn.seq(bhs, itt !== RESERVED_TAG), data };
}

export function reject(conn: FakeConn, reason: number, rejected: Buffer): OutgoingPdu {
  const bhs = buildBhs({ opcode: Opcode.Reject, flags: 0x80, byte2: reason, itt: RESERVED_TAG });
  return { bhs: conn.seq(bhs), data: Buffer.from(rejected.subarray(0, 48)) };
}

export function textResponse(
  conn: FakeConn,
  itt: number,
  ttt: number,
  final: boolean,
  data: Buffer,
): OutgoingPdu {
  const bhs = buildBhs({
    opcode: Opcode.TextResponse,
    flags: (final ? 0x80 : 0) | (final ? 0 : 0x40),
    itt,
    words: { 20: ttt },
  });
  return { bhs: conn.seq(bhs), data };
}

export function tmfResponse(conn: FakeConn, itt: number, response: number): OutgoingPdu {
  const bhs = buildBhs({ opcode: Opcode.TaskMgmtResponse, flags: 0x80, byte2: response, itt });
  return { bhs: conn.seq(bhs) };
}

export function asyncMessage(conn: FakeConn, event: number, parameter3 = 0): OutgoingPdu {
  const bhs = buildBhs({ opcode: Opcode.AsyncMessage, flags: 0x80, itt: RESERVED_TAG });
  bhs[36] = event;
  bhs.writeUInt16BE(parameter3, 42);
  return { bhs: conn.seq(bhs) };
}
