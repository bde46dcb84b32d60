// The soak's hostile clients (issue #13), each run against one node of the cluster, picked at
// random: READ floods never read, stalled connections up to and past the caps, logins past the
// per-initiator session cap, WRITEs that never send their data, TSIH guessing with the victims'
// names and ISIDs, CHAP_C of bad lengths, property-based malformed PDUs (test/helpers/fuzz),
// EXTENDED COPY into a LU another initiator reserved, and calls on the peer (forward) and admin
// gRPC ports without or with the wrong certificate. Through the non-primary node everything a
// session sends to the LU is forwarded to the primary. Outcomes are counted per attack; what
// must never happen (a bypass) is a finding.
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { AdminCallError, AdminClient } from '../../src/admin/admin-client.js';
import { type ForwardServiceClient, forwardPackage } from '../../src/cluster/forward-proto.js';
import { AttackFailure, attackArbitrary, attackName, runAttack } from '../helpers/fuzz/attacks.js';
import { RawConnection } from '../helpers/fuzz/raw-conn.js';
import { readFlood, stalledConnections } from '../helpers/hostile-clients.js';
import {
  buildLoginRequest,
  buildScsiCommand,
  CHAP_MD5,
  chapResponse,
  decodeChapBinary,
  decodeTextKeys,
  encodeChapBinary,
  encodePdu,
  IscsiInitiator,
  LoginError,
  testUnitReady,
  write10,
} from '../helpers/initiator/index.js';
import { Status } from '../helpers/wire.js';
import { copyList, xcopyCdb } from '../helpers/xcopy.js';

const BLOCK = 512;

export interface SoakNode {
  name: string;
  host: string;
  port: number;
  grpc: string;
  admin: string;
  pid: number;
}

/** PEM pairs the gRPC attacks present. */
export interface Pems {
  ca: Buffer;
  /** Each node's own certificate (to claim another node's origin). */
  node: Record<string, { cert: Buffer; key: Buffer }>;
  /** A node certificate of the cluster CA for a node that is no member. */
  stranger: { cert: Buffer; key: Buffer };
  /** A node certificate of another CA. */
  foreignNode: { cert: Buffer; key: Buffer };
  /** An admin certificate of another CA. */
  foreignAdmin: { cert: Buffer; key: Buffer };
  /** A read-only certificate of the cluster CA. */
  readOnly: { cert: Buffer; key: Buffer };
}

export interface AttackContext {
  nodes: SoakNode[];
  /** Open target: LUN 0 the attackers' volume, LUN 1 the reserved one. */
  hostileTarget: string;
  /** The victims' target (CHAP). */
  victimTarget: string;
  victimChap: { user: string; secret: string };
  victims: Array<{ initiatorName: string; isid: string; tsih(): number }>;
  limits: {
    connectionsPerSource: number;
    connectionsInLogin: number;
    sessionsPerInitiator: number;
    commandsPerSession: number;
  };
  hostileLuBlocks: number;
  pems: Pems;
  /** XCOPY of LUN 0 into LUN 1 at reservedLba must not change what the reservation holder wrote. */
  reserved: { srcNaa: Buffer; dstNaa: Buffer; lba: number; blocks: number; unchanged(): Promise<boolean> };
  record(attack: string, outcome: string): void;
  finding(text: string): void;
  nextId(): number;
}

export type Attack = (ctx: AttackContext, node: SoakNode) => Promise<void>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (min: number, spread: number) => sleep(min + Math.random() * spread);
const hex4 = (c: number, d: number) => `0x${((c << 8) | d).toString(16).padStart(4, '0')}`;

function loginOutcome(err: unknown): string {
  if (err instanceof LoginError) return `login refused ${hex4(err.statusClass, err.statusDetail)}`;
  return `failed: ${(err as Error).constructor.name}`;
}

async function login(
  ctx: AttackContext,
  node: SoakNode,
  name: string,
  extra: { isid?: string; tsih?: number; target?: string } = {},
): Promise<IscsiInitiator> {
  const init = await IscsiInitiator.connect({
    host: node.host,
    port: node.port,
    initiatorName: name.includes(':') ? name : `iqn.2026-12.org.tandem.soak:${name}`,
    sessionType: 'Normal',
    targetName: extra.target ?? ctx.hostileTarget,
    timeoutMs: 15_000,
    ...(extra.isid ? { isid: extra.isid } : {}),
    ...(extra.tsih ? { tsih: extra.tsih } : {}),
    params: { InitialR2T: 'Yes', ImmediateData: 'No' },
  });
  return init;
}

async function settle(init: IscsiInitiator, lun = 0): Promise<void> {
  for (let i = 0; i < 5; i++) if ((await init.scsi(lun, testUnitReady())).status === Status.GOOD) return;
}

const readFloodAttack =
  (immediate: boolean): Attack =>
  async (ctx, node) => {
    const hog = await readFlood(
      { host: node.host, port: node.port, target: ctx.hostileTarget },
      400,
      immediate,
      {
        initiatorName: `iqn.2026-12.org.tandem.soak:hog-${ctx.nextId()}`,
        timeoutMs: 15_000,
      },
    );
    await jitter(3000, 4000);
    hog.close();
    ctx.record(`read flood (${immediate ? 'immediate' : 'windowed'})`, '400 × 2 MiB sent, never read');
  };

export const attacks: Record<string, Attack> = {
  'read flood (windowed)': readFloodAttack(false),
  'read flood (immediate)': readFloodAttack(true),

  async 'stalled connections'(ctx, node) {
    // From addresses of their own (127.0.0.2-9: loopback answers all of 127/8), so the victims'
    // 127.0.0.1 keeps its per-source room: one source past connectionsPerSource, or several
    // sources together past connectionsInLogin.
    const perSource = Math.random() < 0.5;
    const sources = perSource ? [2 + Math.floor(Math.random() * 8)] : [2, 3, 4, 5];
    const each = perSource
      ? ctx.limits.connectionsPerSource + 40
      : Math.ceil((ctx.limits.connectionsInLogin * 1.4) / sources.length);
    const bursts = await Promise.all(
      sources.map((s) =>
        stalledConnections(node.port, each, {
          host: node.host,
          localAddress: `127.0.0.${s}`,
          settleMs: 1500,
        }),
      ),
    );
    const refused = bursts.reduce((n, b) => n + b.refused, 0);
    ctx.record(
      'stalled connections',
      `${perSource ? 'per source' : 'in login'}: ${refused} of ${each * sources.length} closed at once`,
    );
    await jitter(1000, 3000);
    for (const b of bursts) for (const s of b.sockets) s.destroy();
  },

  async 'sessions past the cap'(ctx, node) {
    const id = ctx.nextId();
    const open: IscsiInitiator[] = [];
    const n = ctx.limits.sessionsPerInitiator + 4;
    for (let i = 0; i < n; i++) {
      const isid = `400013${(id & 0xffff).toString(16).padStart(4, '0')}${i.toString(16).padStart(2, '0')}`;
      try {
        open.push(await login(ctx, node, `many-${id}`, { isid }));
        ctx.record(
          'sessions past the cap',
          `login ${i < ctx.limits.sessionsPerInitiator ? 'within' : 'past'} the cap: logged in`,
        );
      } catch (err) {
        ctx.record(
          'sessions past the cap',
          `login ${i < ctx.limits.sessionsPerInitiator ? 'within' : 'past'} the cap: ${loginOutcome(err)}`,
        );
      }
    }
    await jitter(500, 1000);
    for (const s of open) s.close();
  },

  async 'writes without data'(ctx, node) {
    const init = await login(ctx, node, `stall-${ctx.nextId()}`);
    await settle(init);
    const n = ctx.limits.commandsPerSession * 2;
    let taskSetFull = 0;
    init.on('pdu', (p) => {
      if (p.kind === 'ScsiResponse' && p.status === Status.TASK_SET_FULL) taskSetFull++;
    });
    for (let i = 0; i < n; i++) {
      init.sendPdu(
        buildScsiCommand({
          lun: 0,
          itt: init.nextItt(),
          cmdSN: init.allocCmdSN(),
          expStatSN: init.expStatSN,
          cdb: write10(i * 8, 8),
          expectedDataTransferLength: 8 * BLOCK,
          write: true,
        }),
      );
    }
    await jitter(2000, 2000);
    ctx.record('writes without data', `${n} sent, TASK SET FULL ×${taskSetFull}`);
    init.close();
  },

  async 'TSIH guessing'(ctx, node) {
    // The victims' own initiator names and ISIDs, on the open target: guessing TSIHs (and the
    // victim's real one) must never join or reinstate a session of the victims' target.
    const v = ctx.victims[Math.floor(Math.random() * ctx.victims.length)]!;
    const guesses = [v.tsih(), ...Array.from({ length: 4 }, () => 1 + Math.floor(Math.random() * 0xfffe)), 0];
    for (const tsih of guesses) {
      try {
        const s = await login(ctx, node, v.initiatorName, { isid: v.isid, tsih });
        ctx.record(
          'TSIH guessing',
          tsih === 0 ? 'TSIH 0: a new session on the open target' : `TSIH ${tsih}: joined`,
        );
        if (tsih !== 0 && tsih === v.tsih())
          ctx.finding(
            `TSIH guessing: joined ${v.initiatorName}'s session (TSIH ${tsih}) through ${ctx.hostileTarget}`,
          );
        s.close();
      } catch (err) {
        ctx.record(
          'TSIH guessing',
          tsih === v.tsih() ? `the victim's TSIH: ${loginOutcome(err)}` : loginOutcome(err),
        );
      }
    }
    // Reinstatement on the victims' own target without the CHAP secret.
    try {
      const s = await login(ctx, node, v.initiatorName, { isid: v.isid, target: ctx.victimTarget });
      ctx.finding(`TSIH guessing: logged in to ${ctx.victimTarget} as ${v.initiatorName} without CHAP`);
      s.close();
    } catch (err) {
      ctx.record('TSIH guessing', `victim target without secret: ${loginOutcome(err)}`);
    }
  },

  async 'bad CHAP_C length'(ctx, node) {
    // 16 bytes is the control: the same login with a challenge of a sane length.
    for (const len of [1, 16, 3000]) {
      const o = await chapChallengeLogin(ctx, node, len);
      ctx.record('bad CHAP_C length', `${len} bytes: ${o}`);
      if (len !== 16 && o.startsWith('accepted'))
        ctx.finding(`CHAP_C of ${len} bytes accepted by ${node.name}`);
    }
  },

  async 'malformed PDUs (fuzz)'(ctx, node) {
    const env = {
      host: node.host,
      port: node.port,
      target: ctx.hostileTarget,
      targetMrdsl: 262144,
      luBlocks: ctx.hostileLuBlocks,
      // Generous on a loaded machine: a slow answer is not what the soak measures.
      answerBoundMs: 15_000,
      ffpIdleCloseMs: 60_000,
      loginIdleCloseMs: 20_000,
      nextId: () => ctx.nextId(),
    };
    for (const a of fc.sample(attackArbitrary(env), 4)) {
      const name = attackName(a);
      try {
        const r = await runAttack(env, a);
        ctx.record('malformed PDUs (fuzz)', r.outcome);
        if (r.pending) {
          await sleep(1000);
          r.pending.close();
        }
      } catch (err) {
        if (err instanceof AttackFailure) ctx.finding(`fuzz on ${node.name}: ${name}: ${err.message}`);
        ctx.record('malformed PDUs (fuzz)', `error: ${(err as Error).constructor.name}`);
      }
    }
  },

  async 'XCOPY into a reserved LU'(ctx, node) {
    const r = ctx.reserved;
    const init = await login(ctx, node, `xcopy-${ctx.nextId()}`);
    try {
      await settle(init, 1);
      const list = copyList(r.srcNaa, r.dstNaa, r.blocks, 0, r.lba);
      const res = await init.scsi(1, xcopyCdb(list.length), { dataOut: list });
      const o =
        res.status === Status.RESERVATION_CONFLICT
          ? 'RESERVATION CONFLICT'
          : res.status === Status.CHECK_CONDITION
            ? `CHECK CONDITION ${res.sense?.key.toString(16)}h/${res.sense?.asc.toString(16)}h/${res.sense?.ascq.toString(16)}h`
            : `status 0x${res.status.toString(16)}`;
      ctx.record('XCOPY into a reserved LU', `via ${node.name}: ${o}`);
      if (res.status === Status.GOOD) ctx.finding(`XCOPY into the reserved LU via ${node.name}: GOOD`);
    } finally {
      init.close();
    }
    if (!(await r.unchanged())) ctx.finding(`XCOPY via ${node.name}: the reserved LU's data changed`);
  },

  async 'peer gRPC without the right certificate'(ctx, node) {
    const p = ctx.pems;
    const other = ctx.nodes.find((n) => n.name !== node.name)!;
    const cases: Array<[string, grpc.ChannelCredentials, string]> = [
      ['no client certificate', grpc.credentials.createSsl(p.ca, null, null, anyServer), node.name],
      [
        "another CA's node certificate",
        grpc.credentials.createSsl(p.ca, p.foreignNode.key, p.foreignNode.cert, anyServer),
        other.name,
      ],
      [
        'a non-member of the cluster CA',
        grpc.credentials.createSsl(p.ca, p.stranger.key, p.stranger.cert, anyServer),
        'z',
      ],
      [
        `${other.name}'s certificate claiming ${node.name}`,
        grpc.credentials.createSsl(p.ca, p.node[other.name]!.key, p.node[other.name]!.cert, anyServer),
        node.name,
      ],
    ];
    for (const [what, creds, origin] of cases) {
      const c = new (forwardPackage().Forward)(node.grpc, creds) as unknown as ForwardServiceClient;
      try {
        const err = await new Promise<grpc.ServiceError | null>((resolve) =>
          c.Reset(
            {
              originNode: origin,
              volume: 'vol1',
              unitAttention: 'BUS_DEVICE_RESET_FUNCTION_OCCURRED',
            } as never,
            { deadline: Date.now() + 10_000 },
            (e) => resolve(e),
          ),
        );
        ctx.record(
          'peer gRPC without the right certificate',
          `${what}: ${err ? grpc.status[err.code] : 'OK'}`,
        );
        if (!err) ctx.finding(`forward Reset on ${node.name} accepted with ${what}`);
      } finally {
        c.close();
      }
    }
    await garbage(node.grpc);
    ctx.record('peer gRPC without the right certificate', 'garbage bytes sent');
  },

  async 'admin gRPC without the right certificate'(ctx, node) {
    const p = ctx.pems;
    const cases: Array<[string, { cert?: Buffer; key?: Buffer }]> = [
      ['no client certificate', {}],
      ["another CA's admin certificate", p.foreignAdmin],
      ['read-only', p.readOnly],
    ];
    for (const [what, cred] of cases) {
      const c = new AdminClient(node.admin, { timeoutMs: 10_000, tls: { ca: p.ca, ...cred } });
      try {
        const id = `soak-${ctx.nextId()}`;
        await c.putConfig('volumes', id, { id, kind: 'shared', size: 1 << 20 });
        ctx.finding(`admin PutConfig on ${node.name} accepted with ${what}`);
        ctx.record('admin gRPC without the right certificate', `${what}: OK`);
      } catch (err) {
        const code =
          err instanceof AdminCallError ? grpc.status[err.grpcCode] : (err as Error).constructor.name;
        ctx.record('admin gRPC without the right certificate', `${what}: ${code}`);
      } finally {
        c.close();
      }
    }
    await garbage(node.admin);
    ctx.record('admin gRPC without the right certificate', 'garbage bytes sent');
  },
};

// Any server certificate of the CA will do: the server's checks are under attack, not ours.
const anyServer = { checkServerIdentity: () => undefined };

/** Raw bytes at a TLS port: an HTTP/2 preface in clear, then random bytes; closed after 1 s. */
async function garbage(hostPort: string): Promise<void> {
  const i = hostPort.lastIndexOf(':');
  try {
    const c = await RawConnection.connect(hostPort.slice(0, i), Number(hostPort.slice(i + 1)));
    c.socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    c.socket.write(Buffer.from(Array.from({ length: 512 }, () => Math.floor(Math.random() * 256))));
    await sleep(1000);
    c.socket.destroy();
  } catch {
    // refused: fine
  }
}

/**
 * A CHAP login to the victims' target with the right initiator secret, asking mutual CHAP with a
 * challenge of `len` bytes (RFC 7143 12.1.3 bounds it). Returns "refused 0xCCDD", "accepted …"
 * or what else happened.
 */
async function chapChallengeLogin(ctx: AttackContext, node: SoakNode, len: number): Promise<string> {
  const c = await RawConnection.connect(node.host, node.port);
  const isid = Buffer.from([0x40, 0x00, 0x13, 0xcc, 0x00, len & 0xff]);
  let cmdSN = 1;
  const step = async (
    transit: boolean,
    keys: Array<[string, string]>,
  ): Promise<string | Array<[string, string]>> => {
    const seen = c.pdus.length;
    const data = Buffer.concat(keys.map(([k, v]) => Buffer.from(`${k}=${v}\0`)));
    c.send(
      encodePdu(
        buildLoginRequest({
          transit,
          cont: false,
          csg: 0,
          nsg: 1,
          isid,
          tsih: 0,
          itt: 0x4c43,
          cid: 0,
          cmdSN,
          expStatSN: 0,
          data,
        }),
      ),
    );
    if ((await c.waitForActivity(seen, 15_000)) !== 'pdu') return c.isClosed ? 'closed' : 'no answer';
    const resp = c.pdus[seen]!;
    if (resp.kind !== 'LoginResponse') return `answered ${resp.kind}`;
    if (resp.statusClass !== 0) return `refused ${hex4(resp.statusClass, resp.statusDetail)}`;
    return decodeTextKeys(resp.data) as Array<[string, string]>;
  };
  try {
    const r1 = await step(false, [
      ['InitiatorName', `iqn.2026-12.org.tandem.soak:chapc-${ctx.nextId()}`],
      ['SessionType', 'Normal'],
      ['TargetName', ctx.victimTarget],
      ['AuthMethod', 'CHAP'],
    ]);
    if (typeof r1 === 'string') return `first step ${r1}`;
    const r2 = await step(false, [['CHAP_A', String(CHAP_MD5)]]);
    if (typeof r2 === 'string') return `CHAP_A: ${r2}`;
    const get = (k: string) => r2.find(([key]) => key === k)?.[1];
    const id = Number(get('CHAP_I'));
    const challenge = get('CHAP_C');
    if (!challenge) return 'no CHAP_C from the target';
    const r3 = await step(true, [
      ['CHAP_N', ctx.victimChap.user],
      ['CHAP_R', encodeChapBinary(chapResponse(id, ctx.victimChap.secret, decodeChapBinary(challenge)))],
      ['CHAP_I', '7'],
      ['CHAP_C', encodeChapBinary(Buffer.alloc(len, 0x5a))],
    ]);
    if (typeof r3 === 'string') return r3;
    return r3.some(([k]) => k === 'CHAP_R') ? 'accepted: the target answered CHAP_R' : 'accepted';
  } finally {
    cmdSN++;
    c.close();
  }
}
