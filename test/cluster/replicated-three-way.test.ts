// Issue #15, check 1: a three-way replicated volume on a 3-node cluster (DESIGN.md safety rules
// 1–3, 6 for N peers). Eight stamped writers (test/helpers/write-log.ts) run through the
// multipath client; the primary is SIGKILLed → one of the two in-sync peers takes over and every
// acknowledged write reads back; that new primary is SIGKILLed too → the third node (still in
// the in-sync set: it got every write) takes over, and everything still reads back. Then both
// killed nodes return at once and are resynced together: all three in the in-sync set,
// `tandemctl verify` finds the replicas identical, and every acknowledged write still reads back.
import { describe, expect, it } from 'vitest';
import {
  leadership,
  tandemctl,
  waitAllUsable,
  pollFor as waitFor,
  waitThreeInSync,
} from '../helpers/cluster.js';
import { threeWayCluster } from '../helpers/cluster-fixture.js';
import { explain } from '../helpers/tools.js';
import { StampedWriters } from '../helpers/write-log.js';

const VOLUME = 'vol0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface VolumeJson {
  id: string;
  inSync: string[];
  primary: string;
}

describe('three-way replicated volume: two primaries killed in turn lose no acknowledged write', () => {
  const fx = threeWayCluster({
    size: '64M',
    initiatorName: 'iqn.2026-11.org.tandem.test:replicated-three-way',
    retryWindowMs: 30_000,
  });

  /** vol0 as `tandemctl status --json` reports it through `via`. */
  async function volumeStatus(via: string): Promise<VolumeJson | undefined> {
    const admin = fx.cluster.node(via).admin!;
    const r = await tandemctl(admin, ['--json', 'status'], 15_000);
    if (r.code !== 0) return undefined;
    return (JSON.parse(r.stdout) as { volumes: VolumeJson[] }).volumes.find((v) => v.id === VOLUME);
  }

  /** The live node whose log says it leads now (a SIGKILLed node's log ends as leader too). */
  const leaderNow = (dead: readonly string[]) =>
    leadership(fx.cluster, VOLUME).find((l) => l.to === Number.POSITIVE_INFINITY && !dead.includes(l.node))
      ?.node;

  /** Kills `primary` under load; resolves with the node that acknowledged writes after it. */
  async function killAndFailOver(
    writers: StampedWriters,
    primary: string,
    alive: string[],
    dead: string[],
  ): Promise<string> {
    const killedAt = performance.now();
    await fx.cluster.kill(primary);
    // Writes in flight at the kill may still complete on the old primary's path.
    const firstAfter = () => writers.acks.find((x) => x.path !== primary && x.end > killedAt);
    await waitFor(`a write acknowledged after SIGKILL of ${primary}`, 25_000, () => firstAfter());
    const next = await waitFor('the new primary', 10_000, () => {
      const l = leaderNow(dead);
      return l && l !== primary ? l : undefined;
    });
    expect(alive, `the new primary ${next} is one of the in-sync survivors`).toContain(next);
    console.log(
      `three-way: SIGKILL of ${primary} → ${next} primary; first write acknowledged ` +
        `${Math.round(firstAfter()!.end - killedAt)} ms after the kill`,
    );
    return next;
  }

  it('primary killed, then the next primary killed: the third serves every acknowledged write; both return and resync', async () => {
    const { cluster, mp } = fx;
    // All three replicas in sync before the faults.
    const first = await waitThreeInSync(cluster, mp, { volume: VOLUME, tolerateStatusErrors: true });
    const all = cluster.names;

    const writers = new StampedWriters(mp, { writers: 8, slotsPerWriter: 64 });
    writers.start();
    await sleep(1500);
    const beforeFirstKill = writers.acks.length;
    expect(beforeFirstKill).toBeGreaterThan(20);

    const second = await killAndFailOver(
      writers,
      first,
      all.filter((n) => n !== first),
      [first],
    );
    await sleep(1500);
    await writers.stop();
    let v = await volumeStatus(second);
    expect(v?.inSync.sort(), 'the dead primary left the in-sync set; the third stayed').toEqual(
      all.filter((n) => n !== first).sort(),
    );
    let check = await writers.verify();
    expect(check.problems, check.problems.slice(0, 10).join('\n')).toEqual([]);

    const third = all.find((n) => n !== first && n !== second)!;
    writers.start();
    await sleep(1500);
    const beforeSecondKill = writers.acks.length;
    const last = await killAndFailOver(writers, second, [third], [first, second]);
    expect(last).toBe(third);
    await sleep(1500);
    await writers.stop();
    expect(writers.acks.length).toBeGreaterThan(beforeSecondKill);
    v = await volumeStatus(third);
    expect(v?.inSync, 'only the survivor is in sync').toEqual([third]);
    check = await writers.verify();
    expect(check.problems, check.problems.slice(0, 10).join('\n')).toEqual([]);
    expect(check.checked).toBeGreaterThan(8 * 64 * 0.9);

    // Both come back at once: the primary resyncs them together and both rejoin.
    await Promise.all([cluster.start(first), cluster.start(second)]);
    v = await waitFor('all three in sync again', 60_000, async () => {
      const s = await volumeStatus(third);
      return s && s.inSync.length === 3 ? s : undefined;
    });
    expect(v.primary).toBe(third);
    const logs = cluster.node(third).logs();
    for (const n of [first, second]) {
      expect(
        logs.some((l) => l.msg === 'resync done: peer in sync' && l.peer === n),
        `${n} resynced`,
      ).toBe(true);
    }
    const ver = await tandemctl(cluster.node(first).admin!, ['--json', 'verify', VOLUME], 60_000);
    expect(ver.code, explain(ver)).toBe(0);
    const result = JSON.parse(ver.stdout) as { differing: unknown[]; nodes?: string[] };
    expect(result.differing).toEqual([]);
    await waitAllUsable(mp);
    check = await writers.verify();
    expect(check.problems, check.problems.slice(0, 10).join('\n')).toEqual([]);

    // switchover --to among two eligible in-sync nodes: the named one takes the role, each time.
    for (const to of [second, first, third]) {
      const sw = await tandemctl(
        cluster.node(first).admin!,
        ['--json', 'switchover', VOLUME, '--to', to],
        60_000,
      );
      expect(sw.code, explain(sw)).toBe(0);
      expect((JSON.parse(sw.stdout) as { to: string }).to).toBe(to);
      v = await waitFor(`${to} primary with three in sync`, 30_000, async () => {
        const s = await volumeStatus(to);
        return s && s.primary === to && s.inSync.length === 3 ? s : undefined;
      });
    }
    await waitAllUsable(mp);
    check = await writers.verify();
    expect(check.problems, check.problems.slice(0, 10).join('\n')).toEqual([]);
  }, 180_000);
});
