// Cluster state on a real etcd: ids allocated once and stable across restarts, reservations
// changed only by compare-and-set (safety rule 7), ALUA state written by the primary and read
// identically elsewhere, desired configuration and membership delivered by watches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AluaSnapshot, ConfigEvent, JsonValue, NodeAddresses } from '../../src/cluster/coordinator.js';
import { type Etcd, startEtcd } from '../helpers/etcd.js';
import { coordinator, freshPrefix, waitFor } from './support.js';

let etcd: Etcd;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.kill();
});

const portals = (n: number, base: number) => Array.from({ length: n }, (_, i) => `127.0.0.1:${base + i}`);

describe('identity', () => {
  it('allocates port group and relative port ids once, unique, stable across a restart', async () => {
    const prefix = freshPrefix();
    const node = (name: string, base: number) => ({
      name,
      portals: portals(2, base),
      grpc: 'g:1',
      admin: 'a:1',
    });
    const a = coordinator(etcd, 'node-a', prefix, { node: node('node-a', 3260) });
    const b = coordinator(etcd, 'node-b', prefix, { node: node('node-b', 4260) });
    await Promise.all([a.start(), b.start()]);
    // Concurrent first allocations must not hand out the same number twice.
    const [ga, gb] = await Promise.all([a.allocatePortGroup(), b.allocatePortGroup()]);
    expect(new Set([ga.targetPortGroupId, gb.targetPortGroupId]).size).toBe(2);
    const rtpis = [...ga.ports, ...gb.ports].map((p) => p.relativePortId);
    expect(new Set(rtpis).size).toBe(4);
    for (const id of [ga.targetPortGroupId, gb.targetPortGroupId, ...rtpis]) {
      expect(id).toBeGreaterThanOrEqual(1);
      expect(id).toBeLessThanOrEqual(65535);
    }
    const seedA = await a.volumeSeed('vol-1');
    expect(await b.volumeSeed('vol-1', 'another-proposal')).toBe(seedA);
    expect(await b.volumeSeed('vol-2', 'given')).toBe('given');

    // Restart node-a: a new process (coordinator) with the same name gets the same ids.
    await a.close();
    const a2 = coordinator(etcd, 'node-a', prefix, { node: node('node-a', 3260) });
    await a2.start();
    expect(await a2.allocatePortGroup()).toEqual(ga);
    expect(await a2.volumeSeed('vol-1')).toBe(seedA);
    // Every node sees every group (REPORT TARGET PORT GROUPS lists them all).
    expect(await b.portGroups()).toEqual([ga, gb].sort((x, y) => x.targetPortGroupId - y.targetPortGroupId));
    // A node that adds a portal keeps its old ids and gets a new one for the new portal.
    await a2.close();
    const a3 = coordinator(etcd, 'node-a', prefix, {
      node: { ...node('node-a', 3260), portals: [...portals(2, 3260), '127.0.0.1:3299'] },
    });
    await a3.start();
    const ga3 = await a3.allocatePortGroup();
    expect(ga3.targetPortGroupId).toBe(ga.targetPortGroupId);
    expect(ga3.ports.slice(0, 2)).toEqual(ga.ports);
    expect(ga3.ports[2]!.relativePortId).toBeGreaterThan(Math.max(...rtpis));

    // And across a restart of etcd itself (the ids are permanent keys, not leased).
    await etcd.stop();
    await etcd.restart();
    const a4 = coordinator(etcd, 'node-a', prefix, { node: node('node-a', 3260) });
    await a4.start();
    expect(await a4.allocatePortGroup()).toEqual(ga);
    expect(await a4.volumeSeed('vol-1')).toBe(seedA);
  });
});

describe('persistent reservations', () => {
  it('changes state only by compare-and-set on the revision it was read at', async () => {
    const prefix = freshPrefix();
    const a = coordinator(etcd, 'node-a', prefix);
    const b = coordinator(etcd, 'node-b', prefix);
    await Promise.all([a.start(), b.start()]);
    const seenByB: Array<{ value: JsonValue | undefined; revision: number }> = [];
    const sub = await b.watchReservations((volume, value, revision) => {
      if (volume === 'vol') seenByB.push({ value, revision });
    });

    const empty = await a.readReservations('vol');
    expect(empty).toEqual({ value: undefined, revision: 0 });
    // Both read the empty state; both try to register; exactly one wins.
    const [ra, rb] = await Promise.all([
      a.compareAndSetReservations('vol', 0, { keys: ['0xa'] }),
      b.compareAndSetReservations('vol', 0, { keys: ['0xb'] }),
    ]);
    expect([ra.ok, rb.ok].sort()).toEqual([false, true]);
    const winner = ra.ok ? ra : rb;
    const loser = ra.ok ? rb : ra;
    if (!winner.ok || loser.ok) throw new Error('unreachable');
    // The loser is told the current state and its revision, re-applies its change, and wins.
    expect(loser.current.revision).toBe(winner.revision);
    const merged = { keys: [...(loser.current.value as { keys: string[] }).keys, ra.ok ? '0xb' : '0xa'] };
    const retry = await (ra.ok ? b : a).compareAndSetReservations('vol', loser.current.revision, merged);
    expect(retry.ok).toBe(true);
    // A stale revision (the one both started from) is refused now and forever.
    const stale = await a.compareAndSetReservations('vol', winner.revision, { keys: [] });
    expect(stale.ok).toBe(false);
    expect(await b.readReservations('vol')).toEqual({
      value: merged,
      revision: retry.ok ? retry.revision : -1,
    });
    await waitFor('b watched both changes', () => seenByB.length === 2);
    expect(seenByB.map((s) => s.revision)).toEqual([winner.revision, retry.ok ? retry.revision : -1]);
    await sub.close();
  });

  it('waits until every live node has applied a new state (rule 7), not for departed nodes', async () => {
    const prefix = freshPrefix();
    const a = coordinator(etcd, 'node-a', prefix);
    const b = coordinator(etcd, 'node-b', prefix);
    const c = coordinator(etcd, 'node-c', prefix);
    await Promise.all([a.start(), b.start(), c.start()]);
    const r = await a.compareAndSetReservations('vol', 0, { generation: 1 });
    if (!r.ok) throw new Error('CAS failed');
    await a.acknowledgeReservations('vol', r.revision);
    // b applies after a moment; c never does, and leaves (its lease ends: it has fenced itself).
    const waiting = a.awaitReservationsApplied('vol', r.revision, ['node-a', 'node-b', 'node-c'], 10_000);
    setTimeout(() => void b.acknowledgeReservations('vol', r.revision), 200);
    setTimeout(() => void c.close(), 400);
    const started = performance.now();
    expect(await waiting).toEqual({ applied: ['node-a', 'node-b'], missing: [] });
    expect(performance.now() - started).toBeLessThan(3000);
    // A live node that does not acknowledge is reported at the timeout.
    const r2 = await a.compareAndSetReservations('vol', r.revision, { generation: 2 });
    if (!r2.ok) throw new Error('CAS failed');
    await a.acknowledgeReservations('vol', r2.revision);
    expect(await a.awaitReservationsApplied('vol', r2.revision, ['node-a', 'node-b'], 300)).toEqual({
      applied: ['node-a'],
      missing: ['node-b'],
    });
  });
});

describe('ALUA', () => {
  it('is written by the primary under its leadership and read identically by the other node', async () => {
    const prefix = freshPrefix();
    const a = coordinator(etcd, 'node-a', prefix);
    const b = coordinator(etcd, 'node-b', prefix);
    await Promise.all([a.start(), b.start()]);
    const watched: AluaSnapshot[] = [];
    const sub = await b.watchAlua((volume, s) => {
      if (volume === 'vol' && s) watched.push(s);
    });
    a.campaign('vol');
    await waitFor('a leads', () => a.role('vol') === 'leader');
    const epoch = a.epoch('vol')!;
    const [ga, gb] = await Promise.all([a.allocatePortGroup(), b.allocatePortGroup()]);
    const published = await a.publishAlua('vol', epoch, [
      { targetPortGroupId: gb.targetPortGroupId, state: 'active-non-optimized' },
      { targetPortGroupId: ga.targetPortGroupId, state: 'active-optimized' },
    ]);
    expect(published.groups.map((g) => g.targetPortGroupId)).toEqual(
      [ga.targetPortGroupId, gb.targetPortGroupId].sort((x, y) => x - y),
    );
    expect(await b.readAlua('vol')).toEqual(published);
    await waitFor('b watched it', () => watched.length === 1);
    expect(watched[0]).toEqual(published);

    // Only the primary may publish: b (not leader), and a with a stale epoch, are refused.
    await expect(b.publishAlua('vol', epoch, [])).rejects.toMatchObject({
      code: 'TANDEM_ERR_CLUSTER_NOT_LEADER',
    });
    b.campaign('vol');
    await a.resign('vol');
    await waitFor('b leads', () => b.role('vol') === 'leader');
    await expect(a.publishAlua('vol', epoch, [])).rejects.toMatchObject({
      code: 'TANDEM_ERR_CLUSTER_NOT_LEADER',
    });
    const next = await b.publishAlua('vol', b.epoch('vol')!, [
      { targetPortGroupId: ga.targetPortGroupId, state: 'unavailable' },
      { targetPortGroupId: gb.targetPortGroupId, state: 'active-optimized' },
    ]);
    expect(next.epoch).toBeGreaterThan(published.epoch);
    expect(next.primary).toBe('node-b');
    expect(await a.readAlua('vol')).toEqual(next);
    await sub.close();
  });
});

describe('configuration and membership', () => {
  it('delivers a configuration change made on one node to the other through its watch', async () => {
    const prefix = freshPrefix();
    const a = coordinator(etcd, 'node-a', prefix);
    const b = coordinator(etcd, 'node-b', prefix);
    await Promise.all([a.start(), b.start()]);
    await a.putConfig('targets', 'iqn.2026-11.org.tandem:demo', { alias: 'demo' });
    const events: ConfigEvent[] = [];
    const sub = await b.watchConfig((e) => events.push(e));
    expect(events[0]).toMatchObject({
      type: 'snapshot',
      entries: [{ kind: 'targets', name: 'iqn.2026-11.org.tandem:demo', value: { alias: 'demo' } }],
    });

    const rev = await a.putConfig('luns', 'iqn.2026-11.org.tandem:demo/0', { volume: 'vol-1' });
    await a.putConfig('volumes', 'vol-1', { kind: 'shared', size: 1 << 30 });
    await expect(
      a.putConfig('luns', 'iqn.2026-11.org.tandem:demo/0', { volume: 'x' }, rev - 1),
    ).rejects.toMatchObject({
      code: 'TANDEM_ERR_CLUSTER_CONFLICT',
    });
    expect(await a.deleteConfig('luns', 'iqn.2026-11.org.tandem:demo/0', rev)).toBe(true);
    await waitFor('b saw three changes', () => events.length === 4);
    expect(events.slice(1)).toEqual([
      {
        type: 'put',
        revision: rev,
        entry: {
          kind: 'luns',
          name: 'iqn.2026-11.org.tandem:demo/0',
          value: { volume: 'vol-1' },
          revision: rev,
        },
      },
      expect.objectContaining({
        type: 'put',
        entry: expect.objectContaining({ kind: 'volumes', name: 'vol-1' }),
      }),
      expect.objectContaining({ type: 'delete', kind: 'luns', name: 'iqn.2026-11.org.tandem:demo/0' }),
    ]);
    const final = await b.readConfig();
    expect(final.entries.map((e) => `${e.kind}/${e.name}`).sort()).toEqual([
      'targets/iqn.2026-11.org.tandem:demo',
      'volumes/vol-1',
    ]);
    await sub.close();
  });

  it('drops the mode parameters with the volume, on delete and on a whole-configuration replace', async () => {
    const prefix = freshPrefix();
    const a = coordinator(etcd, 'node-a', prefix);
    await a.start();
    await a.putConfig('volumes', 'vol-m1', { kind: 'shared', size: 1 << 20 });
    await a.putConfig('volumes', 'vol-m2', { kind: 'shared', size: 1 << 20 });
    await a.putModeParameters('vol-m1', { wce: false });
    await a.putModeParameters('vol-m2', { wce: false });
    expect(await a.deleteConfig('volumes', 'vol-m1')).toBe(true);
    expect((await a.readModeParameters('vol-m1')).value).toBeUndefined();
    expect((await a.readModeParameters('vol-m2')).value).toEqual({ wce: false });
    await a.replaceConfig([
      { kind: 'targets', name: 'iqn.2026-11.org.tandem:demo', value: { alias: 'demo' } },
    ]);
    expect((await a.readModeParameters('vol-m2')).value).toBeUndefined();
  });

  it('lists live members with their addresses and drops a node when it leaves', async () => {
    const prefix = freshPrefix();
    const a = coordinator(etcd, 'node-a', prefix);
    const b = coordinator(etcd, 'node-b', prefix);
    await a.start();
    const seen: NodeAddresses[][] = [];
    const sub = await a.watchMembers((m) => seen.push(m));
    await b.start();
    await waitFor('a sees b', () => seen.at(-1)?.length === 2);
    expect((await a.members()).map((m) => m.name)).toEqual(['node-a', 'node-b']);
    expect((await a.members())[1]).toMatchObject({
      name: 'node-b',
      grpc: expect.any(String),
      portals: expect.any(Array),
    });
    await b.close();
    await waitFor('a sees b leave', () => seen.at(-1)?.length === 1);
    expect(seen.at(-1)!.map((m) => m.name)).toEqual(['node-a']);
    await sub.close();
  });
});
