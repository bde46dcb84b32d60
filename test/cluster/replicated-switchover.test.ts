// Issue #5, planned switchover (DESIGN.md Failover): `tandemctl switchover` under queue-depth-8
// writes hands the primary role of a replicated volume to its in-sync peer with no I/O error
// reaching the initiator beyond unit attentions and retries (the multipath client retries
// NOT READY / transitioning like dm-multipath does), and with no acknowledged write lost. Then
// back again, so the old primary is shown to rejoin as an in-sync replica.
import { describe, expect, it } from 'vitest';
import { tandemctl, waitAllUsable } from '../helpers/cluster.js';
import { multipathCluster } from '../helpers/cluster-fixture.js';
import { StampedWriters } from '../helpers/write-log.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('replicated volume: planned switchover under load', () => {
  const fx = multipathCluster(
    { nodes: 2, kind: 'replicated', size: '64M', ttl: 5 },
    {
      initiatorName: 'iqn.2026-11.org.tandem.test:switchover',
      commandTimeoutMs: 3000,
      retryWindowMs: 20_000,
    },
  );

  it('hands the primary role over and back: no failed command, no lost write', async () => {
    const { cluster, mp } = fx;
    await waitAllUsable(mp, 30_000, cluster);
    const first = mp.paths.find((p) => p.state === 'active-optimized')!.name;
    const second = cluster.names.find((n) => n !== first)!;
    const writers = new StampedWriters(mp, { writers: 8, slotsPerWriter: 32 });
    writers.start();
    await sleep(1000);
    const endpoint = cluster.node(second).admin!;
    let t0 = performance.now();
    const there = await tandemctl(endpoint, ['switchover', 'vol0', '--to', second]);
    const thereMs = performance.now() - t0;
    expect(there.code, there.stderr).toBe(0);
    expect(there.stdout).toContain(`${first} → ${second}`);
    await sleep(1500);
    await mp.refresh();
    expect(mp.state(second), mp.describeStates()).toBe('active-optimized');
    // And back: the old primary is an in-sync replica again (a stale one could not take it).
    t0 = performance.now();
    const back = await tandemctl(endpoint, ['switchover', 'vol0']);
    const backMs = performance.now() - t0;
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain(`${second} → ${first}`);
    await sleep(1500);
    await writers.stop();
    const during = writers.acks.filter((a) => a.end > 0);
    const worst = Math.max(...during.map((a) => a.end - a.start));
    console.log(
      `switchover ${first} → ${second} in ${Math.round(thereMs)} ms, back in ${Math.round(backMs)} ms; ` +
        `${writers.acks.length} writes acknowledged, worst write latency ${Math.round(worst)} ms, ` +
        `failures: ${writers.failures.length}`,
    );
    expect(writers.failures, writers.failures.slice(0, 5).join('\n')).toEqual([]);
    const { checked, problems } = await writers.verify();
    expect(problems, problems.slice(0, 10).join('\n')).toEqual([]);
    expect(checked).toBeGreaterThan(200);
  }, 120_000);
});
