// Issue 13, point 4 (second half), on a 2-node replicated cluster: EXTENDED COPY reads and
// writes every copy target as a direct command of the issuing nexus would, through the copy
// target's primary — never this node's local copy, which may be another volume's non-replica
// (all zeroes) or out of sync. Volumes: vol0 on a and b (primary a), vol1 on b only, vol2 on a
// only. A copy may answer GOOD (with the right data at the destination, read back through its
// primary) or COPY TARGET DEVICE NOT REACHABLE (0Ah/0Dh/02h); never GOOD with stale data.
// The last case copies from vol0 through b right after b rejoined with a stale copy; a small
// resync is often over before the first attempt lands (the log line says which outcomes came),
// the refusal from an Unavailable port itself is in test/unit/scsi/spc/extended-copy-gate.test.ts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster, tandemctl } from '../helpers/cluster.js';
import {
  type IscsiInitiator,
  inquiryVpd,
  read16,
  type ScsiResult,
  testUnitReady,
  write16,
} from '../helpers/initiator/index.js';
import { describeResult, openSession } from '../helpers/multipath.js';
import { Status } from '../helpers/wire.js';
import { copyList, xcopyCdb } from '../helpers/xcopy.js';

const BLOCK = 512;
const BLOCKS = 16;

async function naaOf(s: IscsiInitiator, lun: number): Promise<Buffer> {
  const page = (await s.scsi(lun, inquiryVpd(0x83), { expectedDataIn: 255 })).data;
  for (let off = 4; off < page.length; off += 4 + page[off + 3]!) {
    if ((page[off + 1]! & 0x3f) === 0x03)
      return Buffer.from(page.subarray(off + 4, off + 4 + page[off + 3]!));
  }
  throw new Error('no NAA designator');
}

/** A command retried through unit attentions and transitions, as an initiator does (bounded). */
async function settled(s: IscsiInitiator, lun: number, cdb: Buffer, opts = {}, ms = 30_000) {
  const until = Date.now() + ms;
  let r: ScsiResult;
  do {
    r = await s.scsi(lun, cdb, opts);
    const k = r.sense?.key;
    const transient = r.status === Status.CHECK_CONDITION && (k === 6 || (k === 2 && r.sense?.asc === 0x04));
    if (!transient) return r;
    await new Promise((res) => setTimeout(res, 100));
  } while (Date.now() < until);
  return r;
}

describe('EXTENDED COPY in a cluster reads and writes through each copy target’s primary', () => {
  let cluster: Cluster;
  let sa: IscsiInitiator;
  let sb: IscsiInitiator;
  const naa: Buffer[] = [];
  const data: Buffer[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, kind: 'replicated', size: '16M' });
    const admin = cluster.node('a').admin!;
    for (const [id, lun, replicas] of [
      ['vol1', 1, 'b'],
      ['vol2', 2, 'a'],
    ] as const) {
      const c = await tandemctl(admin, [
        'volume',
        'create',
        id,
        '--size',
        '16M',
        '--kind',
        'replicated',
        '--replicas',
        replicas,
      ]);
      expect(c.code, c.stderr).toBe(0);
      const m = await tandemctl(admin, ['lun', 'map', cluster.target, String(lun), id]);
      expect(m.code, m.stderr).toBe(0);
    }
    const na = cluster.node('a');
    const nb = cluster.node('b');
    sa = (
      await openSession({
        host: na.host,
        port: na.port,
        target: cluster.target,
        initiatorName: 'iqn.2026-12.org.tandem.test:xc-a',
      })
    ).session;
    sb = (
      await openSession({
        host: nb.host,
        port: nb.port,
        target: cluster.target,
        initiatorName: 'iqn.2026-12.org.tandem.test:xc-b',
      })
    ).session;
    // Each volume served by its primary: a for vol0 and vol2, b for vol1.
    for (const [s, lun] of [
      [sa, 0],
      [sb, 1],
      [sa, 2],
    ] as const) {
      const r = await settled(s, lun, testUnitReady());
      expect(r.status, `LUN ${lun}: ${describeResult(r)}`).toBe(Status.GOOD);
      naa[lun] = await naaOf(s, lun);
      data[lun] = randomBytes(BLOCKS * BLOCK);
      const w = await settled(s, lun, write16(0, BLOCKS), { dataOut: data[lun] });
      expect(w.status, `write LUN ${lun}: ${describeResult(w)}`).toBe(Status.GOOD);
    }
  }, 120_000);

  afterAll(async () => {
    sa?.close();
    sb?.close();
    await cluster?.destroy();
  });

  /** Runs the copy; GOOD must have put the source's data at the destination (read on its primary). */
  async function copyAndCheck(
    via: IscsiInitiator,
    lun: number,
    src: number,
    dst: number,
    dstLba: number,
    dstPrimary: IscsiInitiator,
  ): Promise<string> {
    const list = copyList(naa[src]!, naa[dst]!, BLOCKS, 0, dstLba);
    const r = await settled(via, lun, xcopyCdb(list.length), { dataOut: list });
    const outcome = describeResult(r);
    const back = await settled(dstPrimary, dst, read16(dstLba, BLOCKS), { expectedDataIn: BLOCKS * BLOCK });
    expect(back.status, describeResult(back)).toBe(Status.GOOD);
    if (r.status === Status.GOOD) {
      expect(back.data.equals(data[src]!), `GOOD, so LUN ${dst} holds LUN ${src}'s data`).toBe(true);
    } else {
      expect(outcome).toBe('CHECK CONDITION 0Ah/0Dh/02h');
    }
    return outcome;
  }

  it('through b: vol0 (primary a, b in sync) into vol1 (b only): the data written through a', async () => {
    expect(await copyAndCheck(sb, 1, 0, 1, 64, sb)).toBe('GOOD');
  });

  it('through b: vol2 (a only: b holds no copy) into vol1: its data or COPY TARGET DEVICE NOT REACHABLE', async () => {
    await copyAndCheck(sb, 1, 2, 1, 128, sb);
  });

  it('through a: vol0 into vol1 (b only: a holds no copy): written on b, or COPY TARGET DEVICE NOT REACHABLE', async () => {
    await copyAndCheck(sa, 0, 0, 1, 192, sb);
  });

  it('through b, addressed to vol0 (its primary a runs the copy): vol2 into vol1', async () => {
    await copyAndCheck(sb, 0, 2, 1, 256, sb);
  });

  it('through b while b rejoins with a stale copy of vol0: never its stale blocks with GOOD', async () => {
    await cluster.kill('b');
    sb.close();
    // Written while b is down: b's copy of vol0 misses it until b is resynced.
    data[0] = randomBytes(BLOCKS * BLOCK);
    const w = await settled(sa, 0, write16(0, BLOCKS), { dataOut: data[0] });
    expect(w.status, describeResult(w)).toBe(Status.GOOD);
    await cluster.start('b');
    const nb = cluster.node('b');
    sb = (
      await openSession({
        host: nb.host,
        port: nb.port,
        target: cluster.target,
        initiatorName: 'iqn.2026-12.org.tandem.test:xc-b',
      })
    ).session;
    // Raw attempts, no retry inside: the earliest ones land while b's copy is still stale.
    const outcomes: string[] = [];
    const until = Date.now() + 30_000;
    const list = copyList(naa[0]!, naa[1]!, BLOCKS, 0, 320);
    while (Date.now() < until) {
      const r = await sb.scsi(1, xcopyCdb(list.length), { dataOut: list });
      const o = describeResult(r);
      if (outcomes.at(-1) !== o) outcomes.push(o);
      if (r.status === Status.GOOD) break;
      // Not yet served (NOT READY, a unit attention) or the stale source refused.
      expect(o).toMatch(/^CHECK CONDITION (0Ah\/0Dh\/02h|02h\/04h\/..h|06h\/..h\/..h)$/);
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`XCOPY through b from vol0 while b rejoined: ${outcomes.join(', ')}`);
    expect(outcomes.at(-1), outcomes.join(', ')).toBe('GOOD');
    const back = await settled(sb, 1, read16(320, BLOCKS), { expectedDataIn: BLOCKS * BLOCK });
    expect(back.data.equals(data[0]!), 'the data written while b was down').toBe(true);
  }, 60_000);
});
