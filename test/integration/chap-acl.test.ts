// Issue #6, check 4: CHAP, mutual CHAP and initiator ACLs in embedded mode. libiscsi (iscsi-inq,
// iscsi-ls) is the client for the success and failure paths; the TypeScript initiator asserts the
// exact login status class/detail (RFC 7143 11.13.5).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandem, type Tandem } from '../helpers/daemon.js';
import {
  type ConnectOptions,
  IscsiInitiator,
  LoginError,
  parseReportLuns,
  reportLuns,
  testUnitReady,
} from '../helpers/initiator/index.js';
import { explain, iscsiInq, requireTools, run } from '../helpers/tools.js';
import { Status as ScsiStatus } from '../helpers/wire.js';

const MUTUAL_TARGET = 'iqn.2026-11.org.tandem:chap-mutual';
const ONEWAY_TARGET = 'iqn.2026-11.org.tandem:chap-oneway';
const ALLOWED = 'iqn.2026-11.org.tandem.test:allowed';
const LIBISCSI_ALLOWED = 'iqn.2026-11.org.tandem.test:libiscsi';
const OTHER = 'iqn.2026-11.org.tandem.test:other';

const USER = 'tandemuser';
const SECRET = 'tandemSecret01';
const WRONG = 'wrongSecret999';
const TARGET_USER = 'tandemtarget';
const TARGET_SECRET = 'targetSecret02';
const DISCO_USER = 'discouser';
const DISCO_SECRET = 'discoSecret003';
const SECRETS = [SECRET, TARGET_SECRET, DISCO_SECRET];

const memLun = { lun: 0, backstore: 'memory', size: '16M' };

describe('CHAP and ACLs (embedded mode)', () => {
  let node: Tandem;
  const open = new Set<IscsiInitiator>();

  beforeAll(async () => {
    requireTools('iscsi-inq', 'iscsi-ls');
    node = await startTandem({
      logLevel: 'trace',
      config: {
        discoveryAuth: { chap: { user: DISCO_USER, secret: DISCO_SECRET } },
        targets: [
          {
            iqn: MUTUAL_TARGET,
            luns: [memLun],
            auth: {
              chap: { user: USER, secret: SECRET },
              mutualChap: { user: TARGET_USER, secret: TARGET_SECRET },
            },
            acl: [ALLOWED, LIBISCSI_ALLOWED],
          },
          { iqn: ONEWAY_TARGET, luns: [memLun], auth: { chap: { user: USER, secret: SECRET } } },
        ],
      },
    });
  });

  afterAll(() => {
    for (const i of open) i.close();
  });

  const url = (target: string, user = USER, secret = SECRET) =>
    `iscsi://${user}%${secret}@127.0.0.1:${node.portals[0]!.port}/${target}/0`;
  const inq = (
    target: string,
    opts: { user?: string; secret?: string; initiator?: string; env?: NodeJS.ProcessEnv } = {},
  ) =>
    run('iscsi-inq', ['-i', opts.initiator ?? LIBISCSI_ALLOWED, url(target, opts.user, opts.secret)], {
      timeoutMs: 30_000,
      ...(opts.env ? { env: opts.env } : {}),
    });

  /** Logs in with the TypeScript initiator; resolves to the login error (or undefined on success). */
  async function loginStatus(opts: Partial<ConnectOptions>): Promise<LoginError | undefined> {
    try {
      const init = await IscsiInitiator.connect({
        host: '127.0.0.1',
        port: node.portals[0]!.port,
        initiatorName: ALLOWED,
        sessionType: 'Normal',
        targetName: MUTUAL_TARGET,
        timeoutMs: 10_000,
        ...opts,
      });
      open.add(init);
      await init.logout();
      return undefined;
    } catch (err) {
      if (err instanceof LoginError) return err;
      throw err;
    }
  }

  it('iscsi-inq with the right CHAP secret succeeds', async () => {
    const r = await inq(ONEWAY_TARGET);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toMatch(/^Vendor:TANDEM\s*$/m);
  });

  it('iscsi-inq with a wrong CHAP secret fails with an authentication failure', async () => {
    const r = await inq(ONEWAY_TARGET, { secret: WRONG });
    expect(r.code, explain(r)).not.toBe(0);
    expect(r.stderr, explain(r)).toMatch(/login/i);
    expect(r.stderr, explain(r)).toMatch(/Authentication failure/);
  });

  it('iscsi-inq without credentials fails on a CHAP target', async () => {
    const r = await iscsiInq(`iscsi://127.0.0.1:${node.portals[0]!.port}/${ONEWAY_TARGET}/0`, {
      timeoutMs: 30_000,
    });
    expect(r.code, explain(r)).not.toBe(0);
    expect(r.stderr, explain(r)).toMatch(/Authentication failure/);
  });

  it('iscsi-inq from an initiator not in the ACL fails with an authorization failure', async () => {
    const r = await inq(MUTUAL_TARGET, { initiator: OTHER });
    expect(r.code, explain(r)).not.toBe(0);
    expect(r.stderr, explain(r)).toMatch(/login/i);
    expect(r.stderr, explain(r)).toMatch(/Authorization failure/);
  });

  it('iscsi-inq with mutual CHAP (LIBISCSI_CHAP_TARGET_*) succeeds when the target knows its secret', async () => {
    const r = await inq(MUTUAL_TARGET, {
      env: { LIBISCSI_CHAP_TARGET_USERNAME: TARGET_USER, LIBISCSI_CHAP_TARGET_PASSWORD: TARGET_SECRET },
    });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toMatch(/^Vendor:TANDEM\s*$/m);
  });

  it('iscsi-inq refuses a target that answers mutual CHAP with another secret', async () => {
    const r = await inq(MUTUAL_TARGET, {
      env: { LIBISCSI_CHAP_TARGET_USERNAME: TARGET_USER, LIBISCSI_CHAP_TARGET_PASSWORD: 'notTheSecret1' },
    });
    expect(r.code, explain(r)).not.toBe(0);
  });

  it('iscsi-inq asking mutual CHAP of a target without a target secret fails', async () => {
    const r = await inq(ONEWAY_TARGET, {
      env: { LIBISCSI_CHAP_TARGET_USERNAME: TARGET_USER, LIBISCSI_CHAP_TARGET_PASSWORD: TARGET_SECRET },
    });
    expect(r.code, explain(r)).not.toBe(0);
    expect(r.stderr, explain(r)).toMatch(/Authentication failure/);
  });

  it('TypeScript initiator: right secret and mutual CHAP log in', async () => {
    expect(await loginStatus({ chap: { user: USER, secret: SECRET } })).toBeUndefined();
    expect(
      await loginStatus({
        chap: { user: USER, secret: SECRET, mutual: { user: TARGET_USER, secret: TARGET_SECRET } },
      }),
    ).toBeUndefined();
  });

  it('TypeScript initiator: wrong secret → 0x02/0x01', async () => {
    const e = await loginStatus({ chap: { user: USER, secret: WRONG } });
    expect(e).toMatchObject({ statusClass: 0x02, statusDetail: 0x01 });
  });

  it('TypeScript initiator: AuthMethod=None on a CHAP target → 0x02/0x01', async () => {
    const e = await loginStatus({});
    expect(e).toMatchObject({ statusClass: 0x02, statusDetail: 0x01 });
  });

  it('TypeScript initiator: not in the ACL → 0x02/0x02', async () => {
    const e = await loginStatus({ initiatorName: OTHER, chap: { user: USER, secret: SECRET } });
    expect(e).toMatchObject({ statusClass: 0x02, statusDetail: 0x02 });
  });

  // Regression (issue #13, 5): the ACL was checked before CHAP, so 0x0202 instead of a challenge
  // told anyone which initiator names are allowed. Until it has authenticated, an initiator not
  // in the ACL sees exactly what an allowed one with the wrong secret sees.
  it('TypeScript initiator: not in the ACL and a wrong secret or none → 0x02/0x01, like an allowed one', async () => {
    expect(await loginStatus({ initiatorName: OTHER, chap: { user: USER, secret: WRONG } })).toMatchObject({
      statusClass: 0x02,
      statusDetail: 0x01,
    });
    expect(await loginStatus({ initiatorName: OTHER })).toMatchObject({
      statusClass: 0x02,
      statusDetail: 0x01,
    });
    expect(
      await loginStatus({ initiatorName: OTHER, chap: { user: 'nobody', secret: WRONG } }),
    ).toMatchObject({
      statusClass: 0x02,
      statusDetail: 0x01,
    });
  });

  it('TypeScript initiator: mutual CHAP the target cannot satisfy → 0x02/0x01', async () => {
    const e = await loginStatus({
      targetName: ONEWAY_TARGET,
      chap: { user: USER, secret: SECRET, mutual: { user: TARGET_USER, secret: TARGET_SECRET } },
    });
    expect(e).toMatchObject({ statusClass: 0x02, statusDetail: 0x01 });
  });

  it('discovery needs the discovery CHAP secret', async () => {
    const disco = (chap?: ConnectOptions['chap']) =>
      loginStatus({ sessionType: 'Discovery', targetName: undefined, ...(chap ? { chap } : {}) });
    expect(await disco()).toMatchObject({ statusClass: 0x02, statusDetail: 0x01 });
    expect(await disco({ user: DISCO_USER, secret: WRONG })).toMatchObject({
      statusClass: 0x02,
      statusDetail: 0x01,
    });
    expect(await disco({ user: DISCO_USER, secret: DISCO_SECRET })).toBeUndefined();

    const portal = `127.0.0.1:${node.portals[0]!.port}`;
    // Without -s: iscsi-ls would log in to each target with the discovery credentials.
    const ok = await run('iscsi-ls', [`iscsi://${DISCO_USER}%${DISCO_SECRET}@${portal}`], {
      timeoutMs: 30_000,
    });
    expect(ok.code, explain(ok)).toBe(0);
    expect(ok.stdout, explain(ok)).toContain(`Target:${ONEWAY_TARGET}`);
    const bad = await run('iscsi-ls', [`iscsi://${DISCO_USER}%${WRONG}@${portal}`], { timeoutMs: 30_000 });
    expect(bad.code, explain(bad)).not.toBe(0);
  });

  it('never logs a secret', () => {
    const { stdout, stderr } = node.output();
    expect(node.logs().some((l) => l.msg === 'login failed')).toBe(true);
    for (const s of SECRETS) {
      expect(stdout).not.toContain(s);
      expect(stderr).not.toContain(s);
    }
  });
});

describe('LUN masking (aclLuns): an initiator sees only its LUNs', () => {
  const MASKED = 'iqn.2026-11.org.tandem.test:masked';
  const TARGET = 'iqn.2026-11.org.tandem:masking';
  let node: Tandem;
  const open: IscsiInitiator[] = [];

  beforeAll(async () => {
    node = await startTandem({
      config: {
        targets: [
          {
            iqn: TARGET,
            luns: [memLun, { ...memLun, lun: 1 }, { ...memLun, lun: 2 }],
            aclLuns: { [MASKED]: [1] },
          },
        ],
      },
    });
  });

  afterAll(async () => {
    for (const i of open) i.close();
    await node?.stop();
  });

  async function session(initiatorName: string): Promise<IscsiInitiator> {
    const s = await IscsiInitiator.connect({
      host: '127.0.0.1',
      port: node.portals[0]!.port,
      initiatorName,
      sessionType: 'Normal',
      targetName: TARGET,
      timeoutMs: 10_000,
    });
    open.push(s);
    return s;
  }

  it('REPORT LUNS lists only the allowed LUN; the others do not exist for that initiator', async () => {
    const masked = await session(MASKED);
    const r = await masked.scsi(0, reportLuns(), { expectedDataIn: 4096 });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(parseReportLuns(r.data)).toEqual([1]);
    const tur0 = await masked.scsi(0, testUnitReady());
    expect(tur0.status).toBe(ScsiStatus.CHECK_CONDITION);
    expect([tur0.sense?.key, tur0.sense?.asc, tur0.sense?.ascq]).toEqual([0x05, 0x25, 0x00]);
    // LUN 1 works (after the power-on unit attention every new nexus gets first).
    let tur1 = await masked.scsi(1, testUnitReady());
    if (tur1.status === ScsiStatus.CHECK_CONDITION && tur1.sense?.key === 0x06)
      tur1 = await masked.scsi(1, testUnitReady());
    expect(tur1.status).toBe(ScsiStatus.GOOD);
  });

  it('an initiator not listed in aclLuns sees every LUN', async () => {
    const other = await session(OTHER);
    const r = await other.scsi(0, reportLuns(), { expectedDataIn: 4096 });
    expect(parseReportLuns(r.data)).toEqual([0, 1, 2]);
  });
});
