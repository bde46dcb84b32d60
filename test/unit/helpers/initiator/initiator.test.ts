// The test initiator's reactions, driven by a scripted loopback target.
import { afterEach, describe, expect, it } from 'vitest';
import * as cdb from '../../../helpers/initiator/cdb.js';
import {
  ConnectionClosedError,
  DigestError,
  LoginError,
  ProtocolViolationError,
  RejectedError,
  TaskAbortedError,
  TimeoutError,
} from '../../../helpers/initiator/errors.js';
import { type ConnectOptions, IscsiInitiator } from '../../../helpers/initiator/initiator.js';
import {
  buildNopOut,
  Opcode,
  type RawPdu,
  RESERVED_TAG,
  RejectReason,
  TmfResponse,
} from '../../../helpers/initiator/pdu.js';
import { encodeTextKeys } from '../../../helpers/initiator/text-keys.js';
import { Status } from '../../../helpers/wire.js';
import {
  asyncMessage,
  dataIn,
  type FakeConn,
  type FakeTarget,
  type FakeTargetOptions,
  nopIn,
  r2t,
  reject,
  scsiResponse,
  startFakeTarget,
  textResponse,
  tmfResponse,
} from './fake-target.js';

const targets: FakeTarget[] = [];
const inits: IscsiInitiator[] = [];

afterEach(async () => {
  for (const i of inits.splice(0)) {
    i.close();
    await i.closed;
  }
  for (const t of targets.splice(0)) await t.close();
});

async function setup(
  opts: FakeTargetOptions = {},
  conn: Partial<ConnectOptions> = {},
): Promise<{ init: IscsiInitiator; target: FakeTarget; c: () => FakeConn }> {
  const target = await startFakeTarget(opts);
  targets.push(target);
  const init = await IscsiInitiator.connect({
    host: '127.0.0.1',
    port: target.port,
    initiatorName: 'iqn.2024-01.test:init',
    targetName: 'iqn.2024-01.test:fake',
    sessionType: 'Normal',
    timeoutMs: 2000,
    ...conn,
  });
  inits.push(init);
  return { init, target, c: () => target.conns[0]! };
}

const opcode = (p: RawPdu) => p.bhs[0]! & 0x3f;
const itt = (p: RawPdu) => p.bhs.readUInt32BE(16);
const cmdSN = (p: RawPdu) => p.bhs.readUInt32BE(24);
const tick = () => new Promise((r) => setTimeout(r, 30));
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 200) throw new Error('condition not met in 2 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('login', () => {
  it('reassembles a Login Response split with the C bit and records the results', async () => {
    const { init } = await setup({
      splitLoginResponse: true,
      extraLoginKeys: [['TargetAlias', 'a-rather-long-alias-to-split-across-the-two-pdus']],
      answer: (k, v) => (k === 'MaxBurstLength' ? '65536' : k === 'InitialR2T' ? 'Yes' : v),
    });
    expect(init.tsih).toBe(0x1234);
    expect(init.params.maxBurstLength).toBe(65536);
    expect(init.params.initialR2T).toBe(true);
    expect(init.negotiated.get('TargetAlias')).toBe('a-rather-long-alias-to-split-across-the-two-pdus');
    expect(init.violations).toEqual([]);
  });

  it('records an answer that breaks the result function as a violation and keeps the default', async () => {
    const { init } = await setup(
      {
        answer: (k, v) => (k === 'MaxBurstLength' ? '99999999' : k === 'ImmediateData' ? 'Yes' : v),
      },
      { params: { ImmediateData: 'No' } },
    );
    expect(init.violations).toEqual([
      expect.stringContaining('MaxBurstLength'),
      expect.stringContaining('ImmediateData'),
    ]);
    expect(init.params.maxBurstLength).toBe(262144);
    expect(init.params.immediateData).toBe(true);
  });

  it('throws LoginError with the status class and detail', async () => {
    const target = await startFakeTarget({ loginStatus: [2, 1] });
    targets.push(target);
    const err = await IscsiInitiator.connect({
      host: '127.0.0.1',
      port: target.port,
      initiatorName: 'iqn.2024-01.test:init',
      sessionType: 'Discovery',
      timeoutMs: 2000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginError);
    expect(err).toMatchObject({ statusClass: 2, statusDetail: 1 });
  });
});

describe('SCSI commands', () => {
  it('assembles Data-In by offset and takes the status from the S bit', async () => {
    const { init } = await setup({
      onPdu: (c, p) => {
        if (opcode(p) !== Opcode.ScsiCommand) return;
        c.expCmdSN++;
        c.maxCmdSN++;
        c.send(dataIn(c, itt(p), 0, 0, Buffer.alloc(8, 0xaa)));
        c.send(dataIn(c, itt(p), 1, 8, Buffer.alloc(4, 0xbb), { status: 0, residual: 4, underflow: true }));
      },
    });
    const before = init.expStatSN;
    const r = await init.scsi(0, cdb.inquiry({ allocationLength: 16 }), { expectedDataIn: 16 });
    expect(r).toMatchObject({ status: 0, statusInDataIn: true, residualUnderflow: true, residualCount: 4 });
    expect(r.data).toEqual(Buffer.concat([Buffer.alloc(8, 0xaa), Buffer.alloc(4, 0xbb)]));
    expect(init.expStatSN).toBe(before + 1);
    expect(init.violations).toEqual([]);
  });

  it('rejects the task when DataSN skips', async () => {
    const { init } = await setup({
      onPdu: (c, p) => {
        if (opcode(p) !== Opcode.ScsiCommand) return;
        c.send(dataIn(c, itt(p), 0, 0, Buffer.alloc(4)));
        c.send(dataIn(c, itt(p), 2, 4, Buffer.alloc(4), { status: 0 }));
      },
    });
    const err = await init.scsi(0, cdb.read10(0, 1), { expectedDataIn: 8 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolViolationError);
    expect((err as ProtocolViolationError).violations).toEqual(['Data-In DataSN 2, expected 1']);
  });

  it('parses descriptor-format sense from a SCSI Response', async () => {
    const sense = Buffer.from([0x72, 0x05, 0x24, 0x00, 0, 0, 0, 0]);
    const { init } = await setup({
      onPdu: (c, p) => {
        if (opcode(p) === Opcode.ScsiCommand) c.send(scsiResponse(c, itt(p), 0x02, { sense }));
      },
    });
    const r = await init.scsi(0, cdb.testUnitReady());
    expect(r.sense).toMatchObject({ format: 'descriptor', key: 5, asc: 0x24, ascq: 0 });
  });

  it('answers R2Ts with Data-Out PDUs within MaxRecvDataSegmentLength and MaxBurstLength', async () => {
    const payload = Buffer.from(Array.from({ length: 40000 }, (_, i) => i & 0xff));
    const seen: RawPdu[] = [];
    const { init } = await setup(
      {
        onPdu: (c, p) => {
          if (opcode(p) === Opcode.ScsiCommand) {
            c.send(r2t(c, itt(p), 0x77, 0, 0, 20000));
            c.send(r2t(c, itt(p), 0x78, 1, 20000, 20000));
          } else if (opcode(p) === Opcode.DataOut) {
            seen.push(p);
            if (seen.length === 6) c.send(scsiResponse(c, itt(p), 0, { expDataSN: 2 }));
          }
        },
      },
      { params: { ImmediateData: 'No', InitialR2T: 'Yes' } },
    );
    const r = await init.scsi(0, cdb.write10(0, 1), { dataOut: payload });
    expect(r.status).toBe(Status.GOOD);
    expect(r.r2ts).toBe(2);
    // 20000 bytes per R2T in 8192-byte pieces: 8192 + 8192 + 3616, DataSN 0..2, F on the last.
    expect(
      seen.map((p) => [
        p.bhs.readUInt32BE(20),
        p.bhs.readUInt32BE(36),
        p.bhs.readUInt32BE(40),
        p.data.length,
        p.bhs[1],
      ]),
    ).toEqual([
      [0x77, 0, 0, 8192, 0],
      [0x77, 1, 8192, 8192, 0],
      [0x77, 2, 16384, 3616, 0x80],
      [0x78, 0, 20000, 8192, 0],
      [0x78, 1, 28192, 8192, 0],
      [0x78, 2, 36384, 3616, 0x80],
    ]);
    expect(Buffer.concat(seen.map((p) => p.data))).toEqual(payload);
    expect(init.violations).toEqual([]);
  });

  it('sends immediate data and unsolicited Data-Out up to FirstBurstLength', async () => {
    const cmds: RawPdu[] = [];
    const outs: RawPdu[] = [];
    const { init } = await setup(
      {
        answer: (k, v) => (k === 'FirstBurstLength' ? '20000' : v),
        onPdu: (c, p) => {
          if (opcode(p) === Opcode.ScsiCommand) cmds.push(p);
          if (opcode(p) === Opcode.DataOut) {
            outs.push(p);
            const final = (p.bhs[1]! & 0x80) !== 0;
            const ttt = p.bhs.readUInt32BE(20);
            if (final && ttt === RESERVED_TAG) c.send(r2t(c, itt(p), 5, 0, 20000, 10000));
            if (final && ttt === 5) c.send(scsiResponse(c, itt(p), 0, { expDataSN: 1 }));
          }
        },
      },
      { params: { ImmediateData: 'Yes', InitialR2T: 'No' } },
    );
    const r = await init.scsi(0, cdb.write10(0, 1), { dataOut: Buffer.alloc(30000, 1) });
    expect(r.status).toBe(Status.GOOD);
    expect(cmds[0]!.data.length).toBe(8192);
    expect(cmds[0]!.bhs[1]! & 0x80).toBe(0); // F=0: unsolicited Data-Out follows
    expect(outs.map((p) => [p.bhs.readUInt32BE(20), p.bhs.readUInt32BE(40), p.data.length])).toEqual([
      [RESERVED_TAG, 8192, 8192],
      [RESERVED_TAG, 16384, 3616],
      [5, 20000, 8192],
      [5, 28192, 1808],
    ]);
  });

  it('waits while CmdSN > MaxCmdSN and sends in CmdSN order when the window opens', async () => {
    const { init, c } = await setup({ window: 1, onPdu: () => {} });
    const p = [0, 1, 2].map(() => init.scsi(0, cdb.testUnitReady()));
    await tick();
    expect(c().received.map(cmdSN)).toEqual([1]);
    for (let n = 1; n <= 3; n++) {
      const last = c().received.at(-1)!;
      c().expCmdSN++;
      c().maxCmdSN++;
      c().send(scsiResponse(c(), itt(last), 0));
      if (n < 3) await until(() => c().received.length === n + 1);
    }
    await Promise.all(p);
    expect(c().received.map(cmdSN)).toEqual([1, 2, 3]);
  });

  it('times out a command without hanging and ignores its late response', async () => {
    const { init, c } = await setup({ onPdu: () => {} });
    const err = await init.scsi(0, cdb.testUnitReady(), { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    c().send(scsiResponse(c(), itt(c().received[0]!), 0));
    await tick();
    expect(init.violations).toEqual([]);
  });

  it('reports a second SCSI Response for a completed task as a violation', async () => {
    const { init } = await setup({
      onPdu: (c, p) => {
        c.send(scsiResponse(c, itt(p), 0));
        c.send(scsiResponse(c, itt(p), 0));
      },
    });
    const r = await init.scsi(0, cdb.testUnitReady());
    await until(() => init.violations.length > 0);
    expect(init.violations).toEqual([`ScsiResponse for unknown ITT 0x${r.itt.toString(16)}`]);
  });

  it('fails a rejected command with RejectedError and records the reject', async () => {
    const { init } = await setup({
      onPdu: (c, p) => c.send(reject(c, RejectReason.INVALID_PDU_FIELD, p.bhs)),
    });
    const err = await init.scsi(0, cdb.testUnitReady()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RejectedError);
    expect(init.rejects[0]).toMatchObject({ reason: 0x09, rejectedOpcode: Opcode.ScsiCommand });
  });

  it('terminates the aborted task when ABORT TASK completes', async () => {
    const { init, c } = await setup({
      onPdu: (conn, p) => {
        if (opcode(p) === Opcode.TaskMgmtRequest) {
          conn.send(tmfResponse(conn, itt(p), TmfResponse.FUNCTION_COMPLETE));
        }
      },
    });
    const caught = init.scsi(0, cdb.read10(0, 1), { expectedDataIn: 512 }).catch((e: unknown) => e);
    await until(() => c().received.length === 1);
    const ref = itt(c().received[0]!);
    expect(await init.tmf('ABORT_TASK', 0, ref)).toBe(TmfResponse.FUNCTION_COMPLETE);
    const req = c().received[1]!;
    expect(req.bhs[0]).toBe(0x40 | Opcode.TaskMgmtRequest);
    expect(req.bhs[1]).toBe(0x81);
    expect(req.bhs.readUInt32BE(20)).toBe(ref);
    expect(req.bhs.readUInt32BE(32)).toBe(cmdSN(c().received[0]!)); // RefCmdSN
    expect(await caught).toBeInstanceOf(TaskAbortedError);
  });
});

describe('connection events', () => {
  it('answers a target NOP-In ping with an immediate NOP-Out and counts it', async () => {
    const { init, c } = await setup({ onPdu: () => {} });
    c().send(nopIn(c(), RESERVED_TAG, 0xabcd));
    await until(() => c().received.length > 0);
    expect(init.nopInPings).toBe(1);
    const out = c().received[0]!;
    expect(opcode(out)).toBe(Opcode.NopOut);
    expect(out.bhs[0]! & 0x40).toBe(0x40);
    expect(itt(out)).toBe(RESERVED_TAG);
    expect(out.bhs.readUInt32BE(20)).toBe(0xabcd);
    expect(out.bhs.readUInt32BE(24)).toBe(init.cmdSN);
  });

  it('continues a Text Response with F=0 and joins a pair split across PDUs', async () => {
    const body = encodeTextKeys([
      ['TargetName', 'iqn.2024-01.test:a'],
      ['TargetAddress', '127.0.0.1:3260,1'],
      ['TargetName', 'iqn.2024-01.test:b'],
      ['TargetAddress', '[::1]:3260,2'],
    ]);
    const { init } = await setup({
      onPdu: (c, p) => {
        if (opcode(p) !== Opcode.TextRequest) return;
        c.expCmdSN++;
        c.maxCmdSN++;
        if (p.bhs.readUInt32BE(20) === RESERVED_TAG)
          c.send(textResponse(c, itt(p), 9, false, body.subarray(0, 25)));
        else c.send(textResponse(c, itt(p), RESERVED_TAG, true, body.subarray(25)));
      },
    });
    expect(await init.sendTargets()).toEqual([
      { targetName: 'iqn.2024-01.test:a', addresses: ['127.0.0.1:3260,1'] },
      { targetName: 'iqn.2024-01.test:b', addresses: ['[::1]:3260,2'] },
    ]);
    expect(init.cmdSN).toBe(3);
  });

  it('sends hand-built PDUs and hands matching responses to waitForPdu', async () => {
    const { init } = await setup({
      onPdu: (c, p) => {
        if (opcode(p) === Opcode.NopOut) c.send(nopIn(c, itt(p), RESERVED_TAG, p.data));
      },
    });
    const tag = init.nextItt();
    const answer = init.waitForPdu((p) => p.kind === 'NopIn' && p.itt === tag);
    init.sendPdu(
      buildNopOut({
        itt: tag,
        cmdSN: init.cmdSN,
        expStatSN: init.expStatSN,
        immediate: true,
        data: Buffer.from('raw'),
      }),
    );
    const got = await answer;
    expect(got.kind === 'NopIn' && got.data.toString()).toBe('raw');
    expect(init.violations).toEqual([]);
    await expect(init.waitForPdu(() => false, 20)).rejects.toBeInstanceOf(TimeoutError);
  });

  it('emits asynchronous messages', async () => {
    const { init, c } = await setup({ onPdu: () => {} });
    const got = new Promise((resolve) => init.once('asyncMessage', resolve));
    c().send(asyncMessage(c(), 1, 5));
    expect(await got).toMatchObject({ asyncEvent: 1, parameter3: 5 });
  });

  it('rejects pending commands when the target closes the connection', async () => {
    const { init, c } = await setup({ onPdu: () => {} });
    const p = init.scsi(0, cdb.testUnitReady()).catch((e: unknown) => e);
    await until(() => c().received.length === 1);
    c().socket.destroy();
    expect(await p).toBeInstanceOf(ConnectionClosedError);
    expect(await init.closed).toMatchObject({ reason: 'peer', loggedOut: false });
  });

  it('treats a header digest error as fatal', async () => {
    const { init, c } = await setup({ onPdu: () => {} }, { headerDigest: 'CRC32C' });
    expect(init.params.headerDigest).toBe(true);
    const p = init.scsi(0, cdb.testUnitReady()).catch((e: unknown) => e);
    await until(() => c().received.length === 1);
    c().digests.header = false;
    c().send(scsiResponse(c(), itt(c().received[0]!), 0));
    c().socket.write(Buffer.alloc(4)); // a zero "digest" where the CRC belongs
    expect(await p).toBeInstanceOf(DigestError);
    expect((await init.closed).error).toBeInstanceOf(DigestError);
  });
});
