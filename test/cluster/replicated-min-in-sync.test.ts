// Issue #15, check 2, on the wire: a three-way volume with one replica down and one resyncing.
// With minInSync 1 (the default) a write is acknowledged per rule 1 (the in-sync set is the
// primary alone, the resyncing peer gets it live). With minInSync 2, set live by `tandemctl volume
// set`, every write is refused with CHECK CONDITION, DATA PROTECT, LOGICAL UNIT SOFTWARE WRITE
// PROTECTED (07h/27h/02h) while fewer than two copies are in sync — through the whole resync,
// as the primary's own log times it — reads and TEST UNIT READY go on, and writes resume once
// the resynced copy has joined the in-sync set. `tandemctl verify` then finds the copies equal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startThreeWay, tandemctl, waitThreeInSync } from '../helpers/cluster.js';
import { testUnitReady } from '../helpers/initiator/index.js';
import { describeResult, type MultipathClient, senseString } from '../helpers/multipath.js';
import { explain } from '../helpers/tools.js';
import { Status } from '../helpers/wire.js';

const VOLUME = 'vol0';
const MiB = 1 << 20;
const BLOCK = 512;
const REFUSED = '07h/27h/02h';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const block = (seed: number, length = 4096) => {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i += 4) b.writeUInt32BE((seed * 2654435761 + i) >>> 0, i);
  return b;
};

describe('minInSync on a three-way volume: one replica down, one resyncing', () => {
  let cluster: Cluster;
  let mp: MultipathClient;

  beforeAll(async () => {
    ({ cluster, mp } = await startThreeWay({
      size: '128M',
      initiatorName: 'iqn.2026-11.org.tandem.test:min-in-sync',
      retryWindowMs: 20_000,
    }));
  });

  afterAll(async () => {
    await mp?.close();
    await cluster?.destroy();
  });

  const ctl = async (via: string, args: string[]) => {
    const r = await tandemctl(cluster.node(via).admin!, args, 30_000);
    expect(r.code, explain(r)).toBe(0);
    return r.stdout;
  };
  const inSync = async (via: string): Promise<string[]> => {
    const s = JSON.parse(await ctl(via, ['--json', 'status'])) as {
      volumes: { id: string; inSync: string[] }[];
    };
    return s.volumes.find((v) => v.id === VOLUME)?.inSync ?? [];
  };

  it('refuses writes with 07h/27h/02h while fewer than two copies are in sync, through the resync; writes resume after it', async () => {
    const primary = await waitThreeInSync(cluster, mp, { volume: VOLUME });
    const [down, back] = cluster.names.filter((n) => n !== primary) as [string, string];
    await ctl(primary, ['volume', 'set', VOLUME, '--min-in-sync', '2']);
    expect((await mp.write(0, block(1))).result.status).toBe(Status.GOOD);

    // One replica down: two copies in sync, still enough.
    await cluster.kill(down);
    let w = await mp.write(8, block(2));
    expect(w.result.status, describeResult(w.result)).toBe(Status.GOOD);
    // The second one down: the primary alone. The write that finds its mirror gone is refused too.
    await cluster.kill(back);
    w = await mp.write(16, block(3));
    expect(w.result.status, describeResult(w.result)).toBe(Status.CHECK_CONDITION);
    expect(senseString(w.result.sense)).toBe(REFUSED);
    expect(w.path).toBe(primary);
    // Reads and TEST UNIT READY go on: the LU is write protected, not unavailable.
    const r = await mp.read(0, 8);
    expect(r.result.status, describeResult(r.result)).toBe(Status.GOOD);
    expect(r.result.data.equals(block(1))).toBe(true);
    expect((await mp.executeOn(primary, testUnitReady())).status).toBe(Status.GOOD);

    // minInSync 1, the operator's other choice: served on the primary alone (rule 1). Enough data
    // that the returning replica's resync takes a while.
    await ctl(primary, ['volume', 'set', VOLUME, '--min-in-sync', '1']);
    const chunk = 256 * 1024;
    for (let off = MiB; off < 65 * MiB; off += chunk) {
      const x = await mp.write(off / BLOCK, block(off / chunk, chunk));
      expect(x.result.status, describeResult(x.result)).toBe(Status.GOOD);
    }
    await ctl(primary, ['volume', 'set', VOLUME, '--min-in-sync', '2']);
    w = await mp.write(16, block(4));
    expect(senseString(w.result.sense)).toBe(REFUSED);

    // One replica comes back (the other stays down) and is resynced: writes all along.
    const writes: { start: number; end: number; status: number; sense: string }[] = [];
    const restartAt = Date.now();
    const started = cluster.start(back);
    const deadline = Date.now() + 60_000;
    let lastGoodStreak = 0;
    for (let i = 0; lastGoodStreak < 10 && Date.now() < deadline; i++) {
      const start = Date.now();
      const x = await mp.write(24, block(100 + i));
      writes.push({ start, end: Date.now(), status: x.result.status, sense: senseString(x.result.sense) });
      lastGoodStreak = x.result.status === Status.GOOD ? lastGoodStreak + 1 : 0;
      await sleep(5);
    }
    await started;
    // This resync, not the one of its first start.
    const logs = cluster
      .node(primary)
      .logs()
      .filter((l) => l.time >= restartAt);
    const resyncStart = logs.find((l) => l.msg === 'resync started' && l.peer === back);
    const resyncDone = logs.find((l) => l.msg === 'resync done: peer in sync' && l.peer === back);
    expect(resyncStart, `${back} was resynced`).toBeDefined();
    expect(resyncDone, `${back} finished its resync`).toBeDefined();
    const during = writes.filter((x) => x.start >= resyncStart!.time && x.end <= resyncDone!.time);
    // Logged once the peer is in the in-sync set: every write issued later needs no more.
    const after = writes.filter((x) => x.start > resyncDone!.time);
    console.log(
      `minInSync 2: ${writes.length} writes while ${back} returned; resync ${resyncDone!.time - resyncStart!.time} ms, ` +
        `${during.length} writes during it, ${after.length} after`,
    );
    expect(during.length, 'writes were issued during the resync').toBeGreaterThan(0);
    for (const x of during) {
      expect(x.status).toBe(Status.CHECK_CONDITION);
      expect(x.sense).toBe(REFUSED);
    }
    expect(after.length).toBeGreaterThan(0);
    for (const x of after) expect(x.status, x.sense).toBe(Status.GOOD);
    expect((await inSync(primary)).sort()).toEqual([back, primary].sort());

    const ver = await tandemctl(cluster.node(primary).admin!, ['--json', 'verify', VOLUME], 60_000);
    expect(ver.code, explain(ver)).toBe(0);
    expect((JSON.parse(ver.stdout) as { differing: unknown[] }).differing).toEqual([]);
  }, 150_000);
});
