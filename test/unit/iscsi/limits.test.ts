// The caps of iscsi.limits on the wire (issue #13): sessions per initiator (a login past it
// fails with OUT OF RESOURCES, RFC 7143 11.13.5) and commands per session (past it TASK SET
// FULL, SAM-5 5.3.3), each counted in the refusals the metrics export.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeConfigSchema } from '../../../src/admin/config-schema.js';
import { Daemon } from '../../../src/daemon.js';
import { silentLogger } from '../../../src/util/logger.js';
import {
  buildScsiCommand,
  IscsiInitiator,
  LoginError,
  type TargetPdu,
  testUnitReady,
  write10,
} from '../../helpers/initiator/index.js';
import { Status } from '../../helpers/wire.js';

const TARGET = 'iqn.2026-12.org.tandem:limits';

describe('iscsi.limits caps', () => {
  let daemon: Daemon;
  const open: IscsiInitiator[] = [];

  beforeAll(async () => {
    const config = nodeConfigSchema.parse({
      // A private data directory: an embedded node keeps its live configuration there.
      node: { name: 'tandem-1', dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-limits-')) },
      portals: ['127.0.0.1:0'],
      admin: { listen: 'off' },
      iscsi: { limits: { sessionsPerInitiator: 2, commandsPerSession: 3 } },
      targets: [{ iqn: TARGET, luns: [{ lun: 0, backstore: 'memory', size: '8M' }] }],
    });
    daemon = await Daemon.start(config, silentLogger());
  });
  afterAll(async () => {
    for (const i of open) i.close();
    await daemon?.stop(100);
  });

  function login(name: string, isid: string): Promise<IscsiInitiator> {
    return IscsiInitiator.connect({
      host: '127.0.0.1',
      port: daemon.portals[0]!.port,
      initiatorName: `iqn.2026-12.org.tandem.test:${name}`,
      sessionType: 'Normal',
      targetName: TARGET,
      isid,
      // Data-Out only when solicited: a WRITE without it waits in the task set.
      params: { InitialR2T: 'Yes', ImmediateData: 'No' },
    });
  }

  it('sessions per initiator: past the cap a login fails with OUT OF RESOURCES; reinstatement still works', async () => {
    const a = await login('many', '400001370001');
    const b = await login('many', '400001370002');
    open.push(a, b);
    const err = await login('many', '400001370003').then(
      (s) => {
        open.push(s);
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LoginError);
    expect([(err as LoginError).statusClass, (err as LoginError).statusDetail]).toEqual([3, 2]);
    expect(daemon.sessions.refusals()['sessions-per-initiator']).toBe(1);
    // The same ISID again replaces its session: not a new one, not refused.
    const again = await login('many', '400001370001');
    open.push(again);
    expect(again.isClosed).toBe(false);
    // Another initiator is not affected.
    open.push(await login('other', '400001370001'));
  });

  it('commands per session: past the cap, TASK SET FULL; the session carries on', async () => {
    const init = await login('busy', '400001370009');
    open.push(init);
    for (let i = 0; i < 3; i++) if ((await init.scsi(0, testUnitReady())).status === 0) break;
    // Three WRITEs that wait for solicited data fill the session's share of the task set.
    const itts: number[] = [];
    for (let i = 0; i < 4; i++) {
      const itt = init.nextItt();
      itts.push(itt);
      init.sendPdu(
        buildScsiCommand({
          lun: 0,
          itt,
          cmdSN: init.allocCmdSN(),
          expStatSN: init.expStatSN,
          cdb: write10(i, 1),
          expectedDataTransferLength: 512,
          write: true,
        }),
      );
    }
    const full = (await init.waitForPdu(
      (p: TargetPdu) => p.kind === 'ScsiResponse' && p.itt === itts[3],
      5000,
    )) as Extract<TargetPdu, { kind: 'ScsiResponse' }>;
    expect(full.status).toBe(Status.TASK_SET_FULL);
    expect(daemon.sessions.refusals()['task-set-full']).toBe(1);
    init.close();
  });
});
