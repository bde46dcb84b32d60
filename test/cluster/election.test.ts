// Per-volume leader election on a real etcd: one leader at a time, a new epoch per leader, and
// failover when the leader's process dies (DESIGN.md Roles and ALUA, safety rule 3).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Etcd, startEtcd } from '../helpers/etcd.js';
import { coordinator, freshPrefix, memoryLogger, record, spawnCampaigner, waitFor } from './support.js';

let etcd: Etcd;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.kill();
});

describe('election', () => {
  it('elects exactly one leader among two candidates, and both agree who it is', async () => {
    const prefix = freshPrefix();
    const a = coordinator(etcd, 'node-a', prefix);
    const b = coordinator(etcd, 'node-b', prefix);
    await Promise.all([a.start(), b.start()]);
    const ea = record(a);
    const eb = record(b);
    for (const volume of ['vol-1', 'vol-2', 'vol-3']) {
      a.campaign(volume);
      b.campaign(volume);
    }
    for (const volume of ['vol-1', 'vol-2', 'vol-3']) {
      await waitFor(
        `a leader for ${volume}`,
        () => a.role(volume) === 'leader' || b.role(volume) === 'leader',
      );
      // Give a wrongly elected second leader time to show up.
      await new Promise((r) => setTimeout(r, 200));
      const leaders = [a, b].filter((c) => c.role(volume) === 'leader');
      expect(leaders).toHaveLength(1);
      const winner = leaders[0]!;
      const loser = winner === a ? b : a;
      expect(loser.role(volume)).toBe('candidate');
      expect(winner.canServeWrites(volume)).toBe(true);
      expect(loser.canServeWrites(volume)).toBe(false);
      const seenByLoser = await loser.leader(volume);
      expect(seenByLoser).toEqual({ volume, node: winner.nodeName, epoch: winner.epoch(volume) });
    }
    expect(ea.leadershipAcquired.length + eb.leadershipAcquired.length).toBe(3);
    expect(ea.leadershipLost.length + eb.leadershipLost.length).toBe(0);
  });

  it('gives every new leader a higher epoch (resign, re-campaign, close)', async () => {
    const prefix = freshPrefix();
    const a = coordinator(etcd, 'node-a', prefix);
    const b = coordinator(etcd, 'node-b', prefix);
    const observer = coordinator(etcd, 'node-c', prefix);
    await Promise.all([a.start(), b.start(), observer.start()]);
    const ea = record(a);
    const eb = record(b);
    const volume = 'vol';
    const watched: Array<{ node: string; epoch: number } | undefined> = [];
    const sub = await observer.watchLeader(volume, (l) =>
      watched.push(l && { node: l.node, epoch: l.epoch }),
    );

    a.campaign(volume);
    await waitFor('a leads', () => a.role(volume) === 'leader');
    b.campaign(volume);
    const epochs = [a.epoch(volume)!];

    // Leadership goes back and forth three times; each new term has a higher epoch.
    let [leader, other] = [a, b];
    for (let i = 0; i < 3; i++) {
      await leader.resign(volume);
      expect(leader.role(volume)).toBe('idle');
      expect(leader.canServeWrites(volume)).toBe(false);
      await waitFor('the other leads', () => other.role(volume) === 'leader');
      epochs.push(other.epoch(volume)!);
      leader.campaign(volume);
      [leader, other] = [other, leader];
    }
    // Closing the leader hands over too.
    await leader.close();
    await waitFor('the survivor leads', () => other.role(volume) === 'leader');
    epochs.push(other.epoch(volume)!);

    for (let i = 1; i < epochs.length; i++) expect(epochs[i]!).toBeGreaterThan(epochs[i - 1]!);
    // The one leadership-lost event per term, with that term's epoch and reason.
    const lost = [...ea.leadershipLost, ...eb.leadershipLost].sort((x, y) => x.at - y.at);
    expect(lost.map((l) => l.epoch)).toEqual(epochs.slice(0, 4));
    expect(lost.map((l) => l.reason)).toEqual(['resigned', 'resigned', 'resigned', 'closed']);
    // A third node sees the same sequence of primaries.
    await waitFor('watch caught up', () => watched.at(-1)?.epoch === epochs.at(-1));
    const distinct = watched.filter((w): w is { node: string; epoch: number } => w !== undefined);
    expect([...new Set(distinct.map((w) => w.epoch))]).toEqual(epochs);
    await sub.close();
  });

  it('fails over within TTL + 2 s when the leader process is SIGKILLed', async () => {
    const prefix = freshPrefix();
    const ttl = 3;
    const volume = 'vol-kill';
    const child = spawnCampaigner(etcd, prefix, 'node-a', volume, ttl);
    const acquired = await child.waitEvent('acquired', 15_000);

    const { logger } = memoryLogger();
    const b = coordinator(etcd, 'node-b', prefix, { leaseTtlSeconds: ttl, logger });
    await b.start();
    const eb = record(b);
    b.campaign(volume);
    await waitFor('b is a candidate', () => b.role(volume) === 'candidate');
    expect(await b.leader(volume)).toMatchObject({ node: 'node-a', epoch: acquired.epoch });

    const killedAt = performance.now();
    child.child.kill('SIGKILL');
    const won = await waitFor('b leads', () => eb.leadershipAcquired[0], (ttl + 4) * 1000);
    const failoverMs = won.at - killedAt;
    console.log(`failover after SIGKILL: ${Math.round(failoverMs)} ms (TTL ${ttl} s)`);
    expect(failoverMs).toBeLessThan((ttl + 2) * 1000);
    expect(won.epoch).toBeGreaterThan(acquired.epoch!);
    expect(b.canServeWrites(volume)).toBe(true);
  });
});
