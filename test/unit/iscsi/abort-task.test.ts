// ABORT TASK on the wire (RFC 7143 11.5.1) against a real in-process node: a task already
// answered is TASK DOES NOT EXIST (libiscsi's AbortTaskSimpleAsync counts on it); a command
// whose CmdSN is still ahead in the window counts as received and never runs; and a second
// portal group with the same ISID is a second session (a path), not a reinstatement.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeConfigSchema } from '../../../src/admin/config-schema.js';
import { Daemon } from '../../../src/daemon.js';
import { silentLogger } from '../../../src/util/logger.js';
import {
  buildScsiCommand,
  buildTmfRequest,
  IscsiInitiator,
  read10,
  type TargetPdu,
  write10,
} from '../../helpers/initiator/index.js';
import { Status } from '../../helpers/wire.js';

const TARGET = 'iqn.2024-01.org.tandem:abort';
const BS = 512;

describe('ABORT TASK and RefCmdSN', () => {
  let daemon: Daemon;
  const open: IscsiInitiator[] = [];

  beforeAll(async () => {
    const config = nodeConfigSchema.parse({
      node: { name: 'tandem-1', dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-abort-')) },
      portals: ['127.0.0.1:0', '127.0.0.1:0'],
      targets: [{ iqn: TARGET, luns: [{ lun: 0, backstore: 'memory', size: '8M' }] }],
    });
    daemon = await Daemon.start(config, silentLogger());
  });
  afterAll(async () => {
    for (const i of open) i.close();
    await daemon?.stop(100);
    fs.rmSync(daemon.config.node.dataDir, { recursive: true, force: true });
  });

  async function login(portal = 0, isid?: string): Promise<IscsiInitiator> {
    const init = await IscsiInitiator.connect({
      host: '127.0.0.1',
      port: daemon.portals[portal]!.port,
      initiatorName: 'iqn.2024-01.org.tandem:abort-test',
      sessionType: 'Normal',
      targetName: TARGET,
      ...(isid ? { isid } : {}),
    });
    open.push(init);
    // The first command of a nexus reports POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
    for (let i = 0; i < 3; i++) if ((await init.scsi(0, Buffer.alloc(6))).status === 0) break;
    return init;
  }

  function abortTask(init: IscsiInitiator, refItt: number, refCmdSN: number): Promise<number> {
    const itt = init.nextItt();
    const reply = init.waitForPdu((p: TargetPdu) => p.kind === 'TmfResponse' && p.itt === itt, 5000);
    init.sendPdu(
      buildTmfRequest({
        fn: 'ABORT_TASK',
        lun: 0,
        itt,
        referencedTaskTag: refItt,
        cmdSN: init.cmdSN,
        expStatSN: init.expStatSN,
        refCmdSN,
      }),
    );
    return reply.then((p) => (p as Extract<TargetPdu, { kind: 'TmfResponse' }>).response);
  }

  it('a task already answered: TASK DOES NOT EXIST', async () => {
    const init = await login();
    const sn = init.cmdSN;
    const w = await init.scsi(0, write10(1, 1), { dataOut: Buffer.alloc(BS, 0x5a) });
    expect(w.status).toBe(Status.GOOD);
    expect(await abortTask(init, w.itt, sn)).toBe(1);
  });

  it('a command not yet received: FUNCTION COMPLETE, and when it arrives it never runs', async () => {
    const init = await login();
    const sn = init.allocCmdSN();
    const writeItt = init.nextItt();
    expect(await abortTask(init, writeItt, sn)).toBe(0);
    const answered = init
      .waitForPdu((p: TargetPdu) => 'itt' in p && p.itt === writeItt, 500)
      .then(
        () => true,
        () => false,
      );
    init.sendPdu(
      buildScsiCommand({
        lun: 0,
        itt: writeItt,
        cdb: write10(7, 1),
        expectedDataTransferLength: BS,
        cmdSN: sn,
        expStatSN: init.expStatSN,
        write: true,
        ...(init.params.immediateData ? { data: Buffer.alloc(BS, 0xa5) } : {}),
      }),
    );
    // The next command (CmdSN sn + 1) runs: the aborted CmdSN counted as received.
    const r = await init.scsi(0, read10(7, 1), { expectedDataIn: BS });
    expect(r.status).toBe(Status.GOOD);
    expect(r.data.equals(Buffer.alloc(BS))).toBe(true);
    expect(await answered).toBe(false);
  });

  it('RefCmdSN not before the TMF itself: TASK DOES NOT EXIST', async () => {
    const init = await login();
    expect(await abortTask(init, 0x1234, init.cmdSN)).toBe(1);
  });

  it('the same ISID through the other portal group is another session, not a reinstatement', async () => {
    const isid = '400001370042';
    const a = await login(0, isid);
    const b = await login(1, isid);
    expect((await a.scsi(0, Buffer.alloc(6))).status).toBe(Status.GOOD);
    expect((await b.scsi(0, Buffer.alloc(6))).status).toBe(Status.GOOD);
    expect(a.isClosed).toBe(false);
  });
});
