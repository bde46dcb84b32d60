// Issue #13, findings 4 and 6, on the wire against a real tandemd (loopback): EXTENDED COPY
// into an LU another initiator holds under Write Exclusive is a RESERVATION CONFLICT and changes
// nothing; a copy naming an LU masked from the issuer is COPY TARGET DEVICE NOT REACHABLE; a
// TARGET WARM RESET from an initiator that sees LUN 1 only leaves LUN 0 (its task in flight,
// its SPC-2 reservation, its nexuses' unit attentions) alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandem, type Tandem } from '../helpers/daemon.js';
import {
  buildBhs,
  buildScsiCommand,
  type ConnectOptions,
  IscsiInitiator,
  inquiryVpd,
  Opcode,
  PrOutAction,
  PrType,
  persistentReserveOut,
  persistentReserveOutParams,
  type R2tPdu,
  read16,
  type ScsiResult,
  testUnitReady,
  write10,
  write16,
} from '../helpers/initiator/index.js';
import { Status as ScsiStatus } from '../helpers/wire.js';
import { copyList, xcopyCdb } from '../helpers/xcopy.js';

const TARGET = 'iqn.2026-12.org.tandem:xcopy-gate';
const HOLDER = 'iqn.2026-12.org.tandem.test:holder';
const COPIER = 'iqn.2026-12.org.tandem.test:copier';
const MASKED = 'iqn.2026-12.org.tandem.test:masked';
const BLOCK = 512;
const memLun = (lun: number) => ({ lun, backstore: 'memory', size: '16M' });

const kcq = (r: ScsiResult) =>
  r.sense
    ? [r.sense.key, r.sense.asc, r.sense.ascq].map((x) => x.toString(16).padStart(2, '0')).join('/')
    : '';

describe('EXTENDED COPY and target resets go through the gate (wire)', () => {
  let node: Tandem;
  const open: IscsiInitiator[] = [];

  beforeAll(async () => {
    node = await startTandem({
      config: {
        targets: [{ iqn: TARGET, luns: [memLun(0), memLun(1), memLun(2)], aclLuns: { [MASKED]: [1] } }],
      },
    });
  });

  afterAll(async () => {
    for (const i of open) i.close();
    await node?.stop();
  });

  async function session(
    initiatorName: string,
    extra: Partial<ConnectOptions> = {},
  ): Promise<IscsiInitiator> {
    const s = await IscsiInitiator.connect({
      host: '127.0.0.1',
      port: node.portals[0]!.port,
      initiatorName,
      sessionType: 'Normal',
      targetName: TARGET,
      timeoutMs: 10_000,
      ...extra,
    });
    open.push(s);
    return s;
  }

  /** TEST UNIT READY until GOOD: every new nexus gets the power-on unit attention first. */
  async function ready(s: IscsiInitiator, lun: number): Promise<void> {
    for (let i = 0; i < 3; i++) if ((await s.scsi(lun, testUnitReady())).status === ScsiStatus.GOOD) return;
    throw new Error(`LUN ${lun} not ready`);
  }

  async function naaOf(s: IscsiInitiator, lun: number): Promise<Buffer> {
    const page = (await s.scsi(lun, inquiryVpd(0x83), { expectedDataIn: 255 })).data;
    for (let off = 4; off < page.length; off += 4 + page[off + 3]!) {
      if ((page[off + 1]! & 0x3f) === 0x03)
        return Buffer.from(page.subarray(off + 4, off + 4 + page[off + 3]!));
    }
    throw new Error('no NAA designator');
  }

  const xcopy = (s: IscsiInitiator, lun: number, list: Buffer) =>
    s.scsi(lun, xcopyCdb(list.length), { dataOut: list });

  it('XCOPY into an LU reserved Write Exclusive by another initiator: RESERVATION CONFLICT, data unchanged', async () => {
    const holder = await session(HOLDER);
    const copier = await session(COPIER);
    for (const s of [holder, copier]) for (const lun of [0, 1]) await ready(s, lun);
    const mine = Buffer.alloc(16 * BLOCK, 0x5a);
    const theirs = Buffer.alloc(16 * BLOCK, 0xc3);
    expect((await holder.scsi(1, write16(0, 16), { dataOut: mine })).status).toBe(ScsiStatus.GOOD);
    expect((await copier.scsi(0, write16(0, 16), { dataOut: theirs })).status).toBe(ScsiStatus.GOOD);
    const key = 0x1234n;
    const reg = await holder.scsi(1, persistentReserveOut(PrOutAction.REGISTER), {
      dataOut: persistentReserveOutParams({ serviceActionKey: key }),
    });
    expect(reg.status).toBe(ScsiStatus.GOOD);
    const res = await holder.scsi(1, persistentReserveOut(PrOutAction.RESERVE, PrType.WRITE_EXCLUSIVE), {
      dataOut: persistentReserveOutParams({ key }),
    });
    expect(res.status).toBe(ScsiStatus.GOOD);
    // The copier's own WRITE conflicts ...
    const direct = await copier.scsi(1, write16(0, 16), { dataOut: theirs });
    expect(direct.status).toBe(ScsiStatus.RESERVATION_CONFLICT);
    // ... and so does its copy of LUN 0 into LUN 1, sent to LUN 0 (which nobody reserved).
    const list = copyList(await naaOf(copier, 0), await naaOf(copier, 1), 16, 0, 0);
    const c = await xcopy(copier, 0, list);
    expect(c.status, kcq(c)).toBe(ScsiStatus.RESERVATION_CONFLICT);
    const back = await holder.scsi(1, read16(0, 16), { expectedDataIn: 16 * BLOCK });
    expect(back.status).toBe(ScsiStatus.GOOD);
    expect(back.data.equals(mine), 'the holder reads back what it wrote').toBe(true);
    // Reading LUN 1 is allowed under Write Exclusive: a copy out of it works.
    const out = await xcopy(copier, 0, copyList(await naaOf(copier, 1), await naaOf(copier, 0), 16, 0, 100));
    expect(out.status, kcq(out)).toBe(ScsiStatus.GOOD);
    const copied = await copier.scsi(0, read16(100, 16), { expectedDataIn: 16 * BLOCK });
    expect(copied.data.equals(mine)).toBe(true);
    const clear = await holder.scsi(1, persistentReserveOut(PrOutAction.CLEAR), {
      dataOut: persistentReserveOutParams({ key }),
    });
    expect(clear.status).toBe(ScsiStatus.GOOD);
  });

  it('XCOPY naming an LU masked from the issuer: COPY TARGET DEVICE NOT REACHABLE, nothing written', async () => {
    const copier = await session(`${COPIER}-2`);
    const masked = await session(MASKED);
    for (const lun of [0, 1, 2]) await ready(copier, lun);
    await ready(masked, 1);
    const naa = await Promise.all([0, 1, 2].map((lun) => naaOf(copier, lun)));
    const lun2 = Buffer.alloc(8 * BLOCK, 0x77);
    expect((await copier.scsi(2, write16(0, 8), { dataOut: lun2 })).status).toBe(ScsiStatus.GOOD);
    // From LUN 0 (masked) into LUN 1 (visible), and from LUN 1 into LUN 2 (masked).
    for (const list of [copyList(naa[0]!, naa[1]!, 8, 0, 0), copyList(naa[1]!, naa[2]!, 8, 0, 0)]) {
      const c = await xcopy(masked, 1, list);
      expect(c.status).toBe(ScsiStatus.CHECK_CONDITION);
      expect(kcq(c)).toBe('0a/0d/02');
    }
    const after = await copier.scsi(2, read16(0, 8), { expectedDataIn: 8 * BLOCK });
    expect(after.data.equals(lun2)).toBe(true);
  });

  it('TARGET WARM RESET from an initiator that sees LUN 1 only: LUN 0 untouched (task, reservation, no UA)', async () => {
    const other = await session(`${COPIER}-3`, { params: { InitialR2T: 'Yes', ImmediateData: 'No' } });
    const third = await session(`${HOLDER}-3`);
    const masked = await session(`${MASKED}`, { isid: '80123456789a' });
    for (const lun of [0, 1]) await ready(other, lun);
    await ready(third, 0);
    await ready(masked, 1);
    // An SPC-2 reservation of LUN 0 (a logical unit reset would end it).
    expect((await other.scsi(0, Buffer.from([0x16, 0, 0, 0, 0, 0]))).status).toBe(ScsiStatus.GOOD);
    // A WRITE on LUN 0 waiting for its Data-Out.
    const itt = 0x5200_0001;
    const r2t = other.waitForPdu((p) => p.kind === 'R2T' && p.itt === itt, 5000);
    other.sendPdu(
      buildScsiCommand({
        lun: 0,
        itt,
        cmdSN: other.allocCmdSN(),
        expStatSN: other.expStatSN,
        cdb: write10(3000, 8),
        expectedDataTransferLength: 8 * BLOCK,
        write: true,
      }),
    );
    const got = (await r2t) as R2tPdu;

    expect(await masked.tmf('TARGET_WARM_RESET', 1, undefined, { timeoutMs: 5000 })).toBe(0);

    // The write goes on: its Data-Out is taken and it completes GOOD.
    const response = other.waitForPdu((p) => p.kind === 'ScsiResponse' && p.itt === itt, 5000);
    other.sendPdu({
      bhs: buildBhs({
        opcode: Opcode.DataOut,
        flags: 0x80,
        lun: 0,
        itt,
        words: { 20: got.ttt, 28: other.expStatSN, 36: 0, 40: 0 },
      }),
      data: Buffer.alloc(8 * BLOCK, 0x42),
    });
    const resp = await response;
    expect(resp.kind === 'ScsiResponse' && resp.status).toBe(ScsiStatus.GOOD);
    // No unit attention on LUN 0; the reservation still holds against the third initiator.
    expect((await other.scsi(0, testUnitReady())).status).toBe(ScsiStatus.GOOD);
    const blocked = await third.scsi(0, write16(0, 1), { dataOut: Buffer.alloc(BLOCK) });
    expect(blocked.status).toBe(ScsiStatus.RESERVATION_CONFLICT);
    // LUN 1, which the caller sees, was reset: every nexus of it learns so.
    const ua = await other.scsi(1, testUnitReady());
    expect(ua.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect(kcq(ua)).toBe('06/29/00');
  });
});
