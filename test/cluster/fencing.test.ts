// Self-fencing (DESIGN.md safety rule 4): when etcd stops answering, the primary stops serving
// writes strictly before its lease can expire on the etcd side, fires leadership-lost once, and
// the two nodes never both serve writes.
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

describe('self-fencing', () => {
  it('fences the leader before its lease can expire when etcd is SIGSTOPped (default TTL 5 s)', async () => {
    const prefix = freshPrefix();
    const volume = 'vol-fence';
    const logA = memoryLogger();
    const a = coordinator(etcd, 'node-a', prefix, { leaseTtlSeconds: 5, logger: logA.logger });
    const b = coordinator(etcd, 'node-b', prefix, { leaseTtlSeconds: 5 });
    await a.start();
    await b.start();
    const ea = record(a);
    const eb = record(b);
    a.campaign(volume);
    await waitFor('a leads', () => a.role(volume) === 'leader');
    b.campaign(volume);
    await waitFor('b is a candidate', () => b.role(volume) === 'candidate');
    const firstEpoch = a.epoch(volume)!;
    const { ttlMs, fenceAfterMs, marginMs } = a.fencing;
    expect({ ttlMs, fenceAfterMs, marginMs }).toEqual({ ttlMs: 5000, fenceAfterMs: 3500, marginMs: 1500 });
    await new Promise((r) => setTimeout(r, 1200)); // a few keep-alives in steady state

    // Sample who may serve writes every 2 ms for the whole test.
    const samples: Array<{ at: number; a: boolean; b: boolean }> = [];
    const sampler = setInterval(() => {
      samples.push({ at: performance.now(), a: a.canServeWrites(volume), b: b.canServeWrites(volume) });
    }, 2);
    try {
      expect(a.canServeWrites(volume)).toBe(true);
      const pausedAt = performance.now();
      etcd.pause();

      const lost = await waitFor('a loses leadership', () => ea.leadershipLost[0], 10_000, 2);
      const lastSent = a.lastConfirmedKeepAliveSentAt();
      const fencedAt = Math.min(samples.find((s) => s.at > pausedAt && !s.a)?.at ?? lost.at, lost.at);
      const serverExpiryNoEarlierThan = lastSent + ttlMs;
      console.log(
        `etcd paused; last confirmed keep-alive sent ${Math.round(pausedAt - lastSent)} ms before the pause; ` +
          `fenced ${Math.round(fencedAt - lastSent)} ms after it, ${Math.round(serverExpiryNoEarlierThan - fencedAt)} ms ` +
          `before the lease could expire in etcd; leadership-lost event ${Math.round(lost.at - fencedAt)} ms after`,
      );
      expect(lastSent).toBeLessThanOrEqual(pausedAt);
      expect(fencedAt).toBeLessThan(serverExpiryNoEarlierThan);
      expect(serverExpiryNoEarlierThan - fencedAt).toBeGreaterThan(marginMs - 100);
      expect(fencedAt - lastSent).toBeGreaterThanOrEqual(fenceAfterMs - 5);
      expect(lost).toMatchObject({ volume, epoch: firstEpoch, reason: 'lease-renewal-overdue' });
      expect(a.canServeWrites(volume)).toBe(false);
      expect(a.role(volume)).toBe('fenced');
      expect(a.sessionState()).not.toBe('live');
      expect(ea.session.map((e) => `${e.from}>${e.to}`)).toEqual(['live>fenced', 'fenced>connecting']);

      // Keep etcd frozen until the lease has certainly expired there, then let it go.
      await new Promise((r) => setTimeout(r, Math.max(0, pausedAt + ttlMs + 1000 - performance.now())));
      etcd.resume();
      const next = await waitFor(
        'a new leader',
        () => [...ea.leadershipAcquired, ...eb.leadershipAcquired].find((e) => e.epoch > firstEpoch),
        15_000,
      );
      console.log(
        `after resume: ${next === ea.leadershipAcquired[0] ? 'node-a' : 'node-b'} leads with epoch ${next.epoch}`,
      );
      await new Promise((r) => setTimeout(r, 500));

      // The old term ended exactly once, whatever arrived afterwards (the lease expiry, the
      // key's deletion, keep-alive answers).
      expect(ea.leadershipLost.filter((l) => l.epoch === firstEpoch)).toHaveLength(1);
      const lostEpochs = ea.leadershipLost.map((l) => l.epoch);
      expect(new Set(lostEpochs).size).toBe(lostEpochs.length);
      // Never two nodes serving writes at once; a never served again before a new term.
      expect(samples.filter((s) => s.a && s.b)).toEqual([]);
      const reacquired = ea.leadershipAcquired[0]?.at ?? Number.POSITIVE_INFINITY;
      expect(samples.filter((s) => s.at > fencedAt && s.at < reacquired && s.a)).toEqual([]);
      // The transitions are logged with their reasons.
      expect(logA.records).toContainEqual(
        expect.objectContaining({ from: 'live', to: 'fenced', reason: 'lease-renewal-overdue' }),
      );
      expect(logA.records).toContainEqual(
        expect.objectContaining({ volume, from: 'leader', to: 'fenced', epoch: firstEpoch }),
      );
    } finally {
      clearInterval(sampler);
      etcd.resume();
    }
  });

  it('a leader process frozen (SIGSTOP) past its TTL never serves again when it thaws', async () => {
    const prefix = freshPrefix();
    const ttl = 3;
    const volume = 'vol-frozen';
    const child = spawnCampaigner(etcd, prefix, 'node-a', volume, ttl);
    const acquired = await child.waitEvent('acquired', 15_000);
    await waitFor('child serves', () => child.lines.find((l) => l.event === 'serve' && l.value === true));
    const b = coordinator(etcd, 'node-b', prefix, { leaseTtlSeconds: ttl });
    await b.start();
    const eb = record(b);
    b.campaign(volume);

    child.child.kill('SIGSTOP');
    const won = await waitFor('b leads', () => eb.leadershipAcquired[0], (ttl + 4) * 1000);
    expect(won.epoch).toBeGreaterThan(acquired.epoch!);
    const resumedAt = performance.now();
    child.child.kill('SIGCONT');
    const lost = await child.waitEvent('lost', 5000);
    await new Promise((r) => setTimeout(r, 300));
    const afterThaw = child.lines.filter((l) => l.at >= resumedAt);
    console.log(
      `thawed leader: ${afterThaw.map((l) => `${l.event}${l.value ?? l.reason ?? ''}`).join(', ')}`,
    );
    // The first thing it says is that it stopped serving; it never says it serves again.
    expect(afterThaw.filter((l) => l.event === 'serve' && l.value === true)).toEqual([]);
    expect(lost).toMatchObject({ epoch: acquired.epoch });
    expect(['lease-renewal-overdue', 'lease-expired']).toContain(lost.reason);
    expect(child.lines.filter((l) => l.event === 'lost')).toHaveLength(1);
    expect(b.canServeWrites(volume)).toBe(true);
    child.child.kill('SIGKILL');
  });
});
