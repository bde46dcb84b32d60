// Checks the test initiator against tgt, an independent target, so that the initiator can later
// be trusted to judge Tandem. Skipped when tgtd is not installed.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as cdb from '../../helpers/initiator/cdb.js';
import { IscsiInitiator, type ConnectOptions } from '../../helpers/initiator/initiator.js';
import { SenseKey, ScsiStatus } from '../../helpers/initiator/sense.js';
import { haveTgt, startTgt, type TgtDaemon } from './tgt-harness.js';

const HAVE_TGT = haveTgt();
if (!HAVE_TGT) console.warn('initiator-vs-tgt: /usr/sbin/tgtd not installed, skipping');

const INITIATOR = 'iqn.2024-01.org.tandem.test:initiator';
const LUN = 1;
const BLOCK = 512;

describe.skipIf(!HAVE_TGT)('test initiator against tgt', () => {
  let tgt: TgtDaemon;
  const open: IscsiInitiator[] = [];

  beforeAll(async () => {
    tgt = await startTgt({ luns: [{ lun: LUN, sizeBytes: 64 * 1024 * 1024 }] });
  }, 30_000);

  afterEach(async () => {
    for (const i of open.splice(0)) {
      i.close();
      await i.closed;
    }
  });

  afterAll(async () => {
    await tgt?.stop();
  });

  async function login(extra: Partial<ConnectOptions> = {}): Promise<IscsiInitiator> {
    const init = await IscsiInitiator.connect({
      host: tgt.host,
      port: tgt.port,
      initiatorName: INITIATOR,
      targetName: tgt.iqn,
      sessionType: 'Normal',
      timeoutMs: 10_000,
      ...extra,
    });
    open.push(init);
    return init;
  }

  it('discovers the target with SendTargets in a discovery session', async () => {
    const init = await IscsiInitiator.connect({
      host: tgt.host,
      port: tgt.port,
      initiatorName: INITIATOR,
      sessionType: 'Discovery',
      timeoutMs: 10_000,
    });
    open.push(init);
    const targets = await init.sendTargets();
    expect(targets.map((t) => t.targetName)).toEqual([tgt.iqn]);
    expect(targets[0]!.addresses.some((a) => a.startsWith(`127.0.0.1:${tgt.port},`))).toBe(true);
    const out = await init.logout();
    expect(out.response).toBe(0);
    const closed = await init.closed;
    expect(closed.loggedOut).toBe(true);
    console.log('violations', init.violations, init.negotiated);
  });

  it('INQUIRY and READ CAPACITY(16)', async () => {
    const init = await login();
    console.log(init.params, init.negotiated, init.violations);
    const inq = await init.scsi(LUN, cdb.inquiry({ allocationLength: 96 }), { expectedDataIn: 96 });
    expect(inq.status).toBe(ScsiStatus.GOOD);
    const std = cdb.parseStandardInquiry(inq.data);
    expect(std.peripheralDeviceType).toBe(0);
    const cap = await init.scsi(LUN, cdb.readCapacity16(), { expectedDataIn: 32 });
    expect(cap.status).toBe(ScsiStatus.GOOD);
    const rc = cdb.parseReadCapacity16(cap.data);
    expect(rc.blockLength).toBe(BLOCK);
    expect(rc.lastLba).toBe(BigInt((64 * 1024 * 1024) / BLOCK - 1));
    expect(init.violations).toEqual([]);
  });

  const sizes = [4096, 256 * 1024, 1024 * 1024];
  for (const imm of ['Yes', 'No'] as const) {
    for (const r2t of ['Yes', 'No'] as const) {
      it(`writes and reads back 4 KiB, 256 KiB, 1 MiB with ImmediateData=${imm} InitialR2T=${r2t}`, async () => {
        await tgt.setParam('InitialR2T', 'No');
        await tgt.setParam('ImmediateData', 'Yes');
        const init = await login({ params: { ImmediateData: imm, InitialR2T: r2t } });
        expect(init.params.immediateData).toBe(imm === 'Yes');
        expect(init.params.initialR2T).toBe(r2t === 'Yes');
        let lba = 2048;
        for (const size of sizes) {
          const data = randomBytes(size);
          const w = await init.scsi(LUN, cdb.write10(lba, size / BLOCK), { dataOut: data });
          expect(w.status).toBe(ScsiStatus.GOOD);
          const r = await init.scsi(LUN, cdb.read10(lba, size / BLOCK), { expectedDataIn: size });
          expect(r.status).toBe(ScsiStatus.GOOD);
          expect(r.data.equals(data)).toBe(true);
          console.log(imm, r2t, size, w.r2ts, w.dataOutPdus, r.dataInPdus, r.statusInDataIn);
          lba += size / BLOCK;
        }
        expect(init.violations).toEqual([]);
      });
    }
  }
});
