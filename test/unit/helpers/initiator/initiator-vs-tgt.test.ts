// Checks the test initiator against tgt, an independent target, so that the initiator can later
// be trusted to judge Tandem. Skipped when tgtd is not installed.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as cdb from '../../../helpers/initiator/cdb.js';
import { LoginError, LoginProtocolError } from '../../../helpers/initiator/errors.js';
import { type ConnectOptions, IscsiInitiator } from '../../../helpers/initiator/initiator.js';
import { TmfResponse } from '../../../helpers/initiator/pdu.js';
import { haveTgt, startTgt, type TgtDaemon, type TgtOptions } from '../../../helpers/tgt.js';
import { SenseKey, Status } from '../../../helpers/wire.js';

const HAVE_TGT = haveTgt();
if (!HAVE_TGT) console.warn('initiator-vs-tgt: /usr/sbin/tgtd is not installed; skipping the tgt checks');

const INITIATOR = 'iqn.2024-01.org.tandem.test:initiator';
const LUN = 1;
const BLOCK = 512;
const LUN_BYTES = 64 * 1024 * 1024;
const KiB = 1024;
const MiB = 1024 * KiB;

/** A private tgtd per describe block, killed in afterAll; initiators closed after each test. */
function useTgt(opts: TgtOptions = {}) {
  const ctx = { tgt: undefined as unknown as TgtDaemon, open: [] as IscsiInitiator[] };
  beforeAll(async () => {
    ctx.tgt = await startTgt({ luns: [{ lun: LUN, sizeBytes: LUN_BYTES }], ...opts });
  }, 30_000);
  afterEach(async () => {
    for (const i of ctx.open.splice(0)) {
      i.close();
      await i.closed;
    }
  });
  afterAll(async () => {
    await ctx.tgt?.stop();
  });
  const login = async (extra: Partial<ConnectOptions> = {}): Promise<IscsiInitiator> => {
    const init = await IscsiInitiator.connect({
      host: ctx.tgt.host,
      port: ctx.tgt.port,
      initiatorName: INITIATOR,
      targetName: ctx.tgt.iqn,
      sessionType: 'Normal',
      timeoutMs: 10_000,
      // tgt 1.0.85 always sends ExpDataSN 0 in the SCSI Response.
      relax: ['ExpDataSN'],
      ...extra,
    });
    ctx.open.push(init);
    return init;
  };
  return { ctx, login };
}

/** Consumes the power-on unit attention a new I_T nexus gets (SAM-5 5.14). */
async function ready(init: IscsiInitiator): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const r = await init.scsi(LUN, cdb.testUnitReady());
    if (r.status === Status.GOOD) return;
    expect(r.sense?.key).toBe(SenseKey.UNIT_ATTENTION);
  }
  throw new Error('unit attention does not clear');
}

async function writeReadBack(init: IscsiInitiator, lba: number, size: number) {
  const data = randomBytes(size);
  const w = await init.scsi(LUN, cdb.write10(lba, size / BLOCK), { dataOut: data });
  expect(w.status).toBe(Status.GOOD);
  const r = await init.scsi(LUN, cdb.read10(lba, size / BLOCK), { expectedDataIn: size });
  expect(r.status).toBe(Status.GOOD);
  expect(r.data.length).toBe(size);
  expect(r.data.equals(data)).toBe(true);
  return { w, r };
}

describe.skipIf(!HAVE_TGT)('test initiator against tgt', { timeout: 30_000 }, () => {
  const { ctx, login } = useTgt();

  it('discovers the target with SendTargets in a discovery session and logs out', async () => {
    const init = await IscsiInitiator.connect({
      host: ctx.tgt.host,
      port: ctx.tgt.port,
      initiatorName: INITIATOR,
      sessionType: 'Discovery',
      timeoutMs: 10_000,
    });
    ctx.open.push(init);
    const targets = await init.sendTargets();
    expect(targets.map((t) => t.targetName)).toEqual([ctx.tgt.iqn]);
    expect(targets[0]!.addresses).toContain(`127.0.0.1:${ctx.tgt.port},1`);
    const out = await init.logout();
    expect(out.response).toBe(0);
    expect((await init.closed).loggedOut).toBe(true);
    expect(init.violations).toEqual([]);
  });

  it('negotiates every RFC 7143 operational key and records the TSIH', async () => {
    const init = await login();
    expect(init.tsih).not.toBe(0);
    expect(init.loginStatus).toEqual({ statusClass: 0, statusDetail: 0 });
    for (const k of [
      'HeaderDigest',
      'DataDigest',
      'MaxBurstLength',
      'FirstBurstLength',
      'InitialR2T',
      'ImmediateData',
      'MaxOutstandingR2T',
      'DataPDUInOrder',
      'DataSequenceInOrder',
      'DefaultTime2Wait',
      'DefaultTime2Retain',
      'MaxConnections',
      'ErrorRecoveryLevel',
    ]) {
      expect(init.negotiated.has(k), k).toBe(true);
    }
    // tgt does not declare MaxRecvDataSegmentLength, so the RFC 7143 13.12 default applies.
    expect(init.negotiated.has('MaxRecvDataSegmentLength')).toBe(false);
    // tgt's defaults cap our offers (minimum function).
    expect(init.params.maxBurstLength).toBe(262144);
    expect(init.params.firstBurstLength).toBe(65536);
    expect(init.params.targetMaxRecvDataSegmentLength).toBe(8192);
    expect(init.violations).toEqual([]);
  });

  it('logs in starting at the operational stage when the security stage is skipped', async () => {
    const init = await login({ skipSecurityPhase: true, isid: '80aabbccdd00' });
    expect(init.isid.toString('hex')).toBe('80aabbccdd00');
    await ready(init);
    expect(init.violations).toEqual([]);
  });

  it('INQUIRY, READ CAPACITY(16) and REPORT LUNS', async () => {
    const init = await login();
    await ready(init);
    const inq = await init.scsi(LUN, cdb.inquiry({ allocationLength: 96 }), { expectedDataIn: 96 });
    expect(inq.status).toBe(Status.GOOD);
    const std = cdb.parseStandardInquiry(inq.data);
    expect(std.peripheralDeviceType).toBe(0);
    expect(std.vendor.length).toBeGreaterThan(0);
    const cap = await init.scsi(LUN, cdb.readCapacity16(), { expectedDataIn: 32 });
    expect(cap.status).toBe(Status.GOOD);
    const rc = cdb.parseReadCapacity16(cap.data);
    expect(rc.blockLength).toBe(BLOCK);
    expect(rc.lastLba).toBe(BigInt(LUN_BYTES / BLOCK - 1));
    const luns = await init.scsi(0, cdb.reportLuns(), { expectedDataIn: 4096 });
    expect(luns.status).toBe(Status.GOOD);
    expect(cdb.parseReportLuns(luns.data)).toEqual([0, 1]);
    expect(init.violations).toEqual([]);
  });

  it('reports residual underflow', async () => {
    const init = await login();
    await ready(init);
    const under = await init.scsi(LUN, cdb.inquiry({ allocationLength: 255 }), { expectedDataIn: 255 });
    expect(under.status).toBe(Status.GOOD);
    expect(under.residualUnderflow).toBe(true);
    expect(under.residualCount).toBe(255 - under.data.length);
    expect(init.violations).toEqual([]);
  });

  it('returns CHECK CONDITION with parsed sense for a read past the end', async () => {
    const init = await login();
    await ready(init);
    const r = await init.scsi(LUN, cdb.read16(BigInt(LUN_BYTES / BLOCK), 1), { expectedDataIn: BLOCK });
    expect(r.status).toBe(Status.CHECK_CONDITION);
    expect(r.sense).toMatchObject({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x21, ascq: 0x00 });
    expect(init.violations).toEqual([]);
  });

  for (const imm of ['Yes', 'No'] as const) {
    for (const r2t of ['Yes', 'No'] as const) {
      it(`writes and reads back 4 KiB, 256 KiB, 1 MiB with ImmediateData=${imm} InitialR2T=${r2t}`, async () => {
        // The target allows both; the initiator's offer decides (AND / OR result functions).
        await ctx.tgt.setParam('InitialR2T', 'No');
        await ctx.tgt.setParam('ImmediateData', 'Yes');
        const init = await login({ params: { ImmediateData: imm, InitialR2T: r2t } });
        expect(init.params.immediateData).toBe(imm === 'Yes');
        expect(init.params.initialR2T).toBe(r2t === 'Yes');
        await ready(init);
        let lba = 2048;
        for (const size of [4 * KiB, 256 * KiB, MiB]) {
          const { w } = await writeReadBack(init, lba, size);
          const solicited = size - (imm === 'Yes' || r2t === 'No' ? Math.min(size, 65536) : 0);
          if (solicited === 0) expect(w.r2ts).toBe(0);
          else expect(w.r2ts).toBeGreaterThanOrEqual(Math.ceil(solicited / 262144));
          lba += size / BLOCK;
        }
        expect(init.violations).toEqual([]);
      });
    }
  }

  it('splits bursts and PDUs by MaxBurstLength and both MaxRecvDataSegmentLengths', async () => {
    await ctx.tgt.setParam('MaxRecvDataSegmentLength', '4096');
    await ctx.tgt.setParam('MaxBurstLength', '65536');
    await ctx.tgt.setParam('FirstBurstLength', '16384');
    try {
      const init = await login({ params: { MaxRecvDataSegmentLength: '16384', InitialR2T: 'No' } });
      expect(init.params.targetMaxRecvDataSegmentLength).toBe(4096);
      expect(init.params.maxBurstLength).toBe(65536);
      expect(init.params.firstBurstLength).toBe(16384);
      await ready(init);
      const { w, r } = await writeReadBack(init, 4096, MiB);
      expect(w.r2ts).toBe(Math.ceil((MiB - 16384) / 65536));
      expect(w.dataOutPdus).toBe((MiB - 4096) / 4096);
      expect(r.dataInPdus).toBeGreaterThanOrEqual(MiB / 16384);
      expect(init.violations).toEqual([]);
    } finally {
      await ctx.tgt.setParam('MaxRecvDataSegmentLength', '8192');
      await ctx.tgt.setParam('MaxBurstLength', '262144');
      await ctx.tgt.setParam('FirstBurstLength', '65536');
    }
  });

  it('uses CRC32C header and data digests', async () => {
    await ctx.tgt.setParam('HeaderDigest', 'CRC32C,None');
    await ctx.tgt.setParam('DataDigest', 'CRC32C,None');
    try {
      const init = await login({ headerDigest: 'CRC32C', dataDigest: 'CRC32C' });
      expect(init.params.headerDigest).toBe(true);
      expect(init.params.dataDigest).toBe(true);
      await ready(init);
      await writeReadBack(init, 8192, 256 * KiB);
      expect(init.violations).toEqual([]);
    } finally {
      await ctx.tgt.setParam('HeaderDigest', 'None');
      await ctx.tgt.setParam('DataDigest', 'None');
    }
  });

  it('keeps 32 commands outstanding at once', async () => {
    const init = await login();
    await ready(init);
    const size = 64 * KiB;
    const blobs = Array.from({ length: 32 }, () => randomBytes(size));
    const lba = (i: number) => 16384 + (i * size) / BLOCK;
    const writes = blobs.map((b, i) => init.scsi(LUN, cdb.write10(lba(i), size / BLOCK), { dataOut: b }));
    expect(init.pendingTasks).toBe(32);
    for (const w of await Promise.all(writes)) expect(w.status).toBe(Status.GOOD);
    const reads = blobs.map((_, i) =>
      init.scsi(LUN, cdb.read10(lba(i), size / BLOCK), { expectedDataIn: size }),
    );
    expect(init.pendingTasks).toBe(32);
    const got = await Promise.all(reads);
    for (const [i, r] of got.entries()) expect(r.data.equals(blobs[i]!)).toBe(true);
    expect(init.violations).toEqual([]);
  });

  it('pings with NOP-Out and gets the data echoed', async () => {
    const init = await login();
    const payload = Buffer.from('tandem-ping-0123456789');
    expect((await init.nop(payload)).equals(payload)).toBe(true);
    expect((await init.nop(undefined, { immediate: false })).length).toBe(0);
    expect(init.violations).toEqual([]);
  });

  it('performs LUN RESET and sees the unit attention it causes', async () => {
    const init = await login();
    await ready(init);
    expect(await init.tmf('LUN_RESET', LUN)).toBe(TmfResponse.FUNCTION_COMPLETE);
    const r = await init.scsi(LUN, cdb.testUnitReady());
    expect(r.status).toBe(Status.CHECK_CONDITION);
    expect(r.sense).toMatchObject({ key: SenseKey.UNIT_ATTENTION, asc: 0x29 });
    expect(init.violations).toEqual([]);
  });

  it('logs out a normal session', async () => {
    const init = await login();
    await ready(init);
    const out = await init.logout();
    expect(out.response).toBe(0);
    const closed = await init.closed;
    expect(closed).toEqual({ reason: 'logout', error: undefined, loggedOut: true });
    await expect(init.scsi(LUN, cdb.testUnitReady())).rejects.toThrow(/closed/);
  });

  it('fails the login for an unknown target name with status 0x0203', async () => {
    const err = await login({ targetName: 'iqn.2024-01.org.tandem.test:nope' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginError);
    expect(err).toMatchObject({ statusClass: 2, statusDetail: 3 });
  });
});

describe.skipIf(!HAVE_TGT)('test initiator against tgt: target NOP-In pings', { timeout: 30_000 }, () => {
  const { login } = useTgt({ params: { nop_interval: '1', nop_count: '5' } });

  it('answers target pings so the idle connection survives', async () => {
    const init = await login();
    await new Promise((r) => setTimeout(r, 2500));
    expect(init.nopInPings).toBeGreaterThanOrEqual(1);
    expect(init.isClosed).toBe(false);
    await ready(init);
    expect(init.violations).toEqual([]);
  });
});

describe.skipIf(!HAVE_TGT)('test initiator against tgt: CHAP', { timeout: 30_000 }, () => {
  const { login } = useTgt({
    accounts: [
      { user: 'alice', password: 'alice-secret-1' },
      { user: 'tandem-target', password: 'target-secret-1', outgoing: true },
    ],
  });

  it('logs in with one-way CHAP (MD5)', async () => {
    const init = await login({ chap: { user: 'alice', secret: 'alice-secret-1' } });
    await ready(init);
    expect(init.violations).toEqual([]);
  });

  it('logs in with mutual CHAP and verifies the target', async () => {
    const init = await login({
      chap: {
        user: 'alice',
        secret: 'alice-secret-1',
        mutual: { user: 'tandem-target', secret: 'target-secret-1' },
      },
    });
    await ready(init);
  });

  it('rejects a target that cannot prove the mutual secret', async () => {
    const err = await login({
      chap: { user: 'alice', secret: 'alice-secret-1', mutual: { user: 'tandem-target', secret: 'wrong' } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginProtocolError);
  });

  it('fails with an authentication error for a wrong secret', async () => {
    const err = await login({ chap: { user: 'alice', secret: 'wrong-secret' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginError);
    expect(err).toMatchObject({ statusClass: 2, statusDetail: 1 });
  });
});
