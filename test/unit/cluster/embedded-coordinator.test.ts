// The single-node coordinator: always leader at epoch 1, never fenced, deterministic identity
// (so VPD 83h and port ids survive a restart without etcd), in-memory stores with the same
// compare-and-set and watch semantics as the etcd one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigEvent, CoordinatorEvents, JsonValue } from '../../../src/cluster/coordinator.js';
import { EMBEDDED_EPOCH, EmbeddedCoordinator } from '../../../src/cluster/embedded-coordinator.js';
import { silentLogger } from '../../../src/util/logger.js';

const node = {
  name: 'solo',
  portals: ['127.0.0.1:3260', '127.0.0.1:3261'],
  grpc: '127.0.0.1:0',
  admin: '127.0.0.1:0',
};
const make = () => new EmbeddedCoordinator({ node, logger: silentLogger() });
const tick = () => new Promise((r) => setImmediate(r));

function events(c: EmbeddedCoordinator) {
  const seen: Array<{ type: keyof CoordinatorEvents } & Record<string, unknown>> = [];
  c.on('leadershipAcquired', (e) => seen.push({ type: 'leadershipAcquired', ...e }));
  c.on('leadershipLost', (e) => {
    // The handler's first duty: writes have already stopped when it runs.
    expect(c.canServeWrites(e.volume)).toBe(false);
    seen.push({ type: 'leadershipLost', ...e });
  });
  return seen;
}

describe('EmbeddedCoordinator', () => {
  it('is leader of every volume it campaigns for, at epoch 1, and never fenced', async () => {
    const c = make();
    await c.start();
    expect(c.sessionState()).toBe('live');
    const seen = events(c);
    expect(c.role('vol')).toBe('idle');
    expect(c.canServeWrites('vol')).toBe(false);
    c.campaign('vol');
    c.campaign('vol'); // idempotent
    expect(c.role('vol')).toBe('leader');
    expect(c.epoch('vol')).toBe(EMBEDDED_EPOCH);
    expect(c.canServeWrites('vol')).toBe(true);
    expect(await c.leader('vol')).toEqual({ volume: 'vol', node: 'solo', epoch: 1 });
    await tick();
    await c.resign('vol');
    expect(c.canServeWrites('vol')).toBe(false);
    c.campaign('vol');
    await tick();
    await c.close();
    expect(c.role('vol')).toBe('closed');
    expect(seen.map((e) => `${e.type}:${e.reason ?? ''}`)).toEqual([
      'leadershipAcquired:',
      'leadershipLost:resigned',
      'leadershipAcquired:',
      'leadershipLost:closed',
    ]);
    await expect(c.publishAlua('vol', 1, [])).rejects.toMatchObject({ code: 'TANDEM_ERR_CLUSTER_CLOSED' });
  });

  it('derives identity deterministically: TPG 1, ports 1..n in portal order, seed = proposal or name', async () => {
    for (let run = 0; run < 2; run++) {
      const c = make();
      await c.start();
      expect(await c.allocatePortGroup()).toEqual({
        node: 'solo',
        targetPortGroupId: 1,
        ports: [
          { portal: '127.0.0.1:3260', relativePortId: 1 },
          { portal: '127.0.0.1:3261', relativePortId: 2 },
        ],
      });
      expect(await c.portGroups()).toHaveLength(1);
      expect(await c.volumeSeed('vol')).toBe('vol');
      expect(await c.volumeSeed('vol', 'solo:iqn:0')).toBe('solo:iqn:0');
      expect((await c.members()).map((m) => m.name)).toEqual(['solo']);
      await c.close();
    }
  });

  it('publishes ALUA only as leader with epoch 1 and delivers it to watchers', async () => {
    const c = make();
    await c.start();
    const seen: unknown[] = [];
    await c.watchAlua((volume, s) => seen.push([volume, s?.groups]));
    await expect(c.publishAlua('vol', 1, [])).rejects.toMatchObject({
      code: 'TANDEM_ERR_CLUSTER_NOT_LEADER',
    });
    c.campaign('vol');
    await expect(c.publishAlua('vol', 2, [])).rejects.toMatchObject({
      code: 'TANDEM_ERR_CLUSTER_NOT_LEADER',
    });
    const s = await c.publishAlua('vol', 1, [{ targetPortGroupId: 1, state: 'active-optimized' }]);
    expect(seen).toEqual([]); // delivered after the write returns, like an etcd watch
    expect(await c.readAlua('vol')).toEqual(s);
    await tick();
    expect(seen).toEqual([['vol', [{ targetPortGroupId: 1, state: 'active-optimized' }]]]);
  });

  it('changes reservations only by compare-and-set and hands out copies', async () => {
    const c = make();
    await c.start();
    const seen: Array<[string, JsonValue | undefined, number]> = [];
    await c.watchReservations((v, value, rev) => seen.push([v, value, rev]));
    const value = { keys: ['0x1'] };
    const r1 = await c.compareAndSetReservations('vol', 0, value);
    expect(r1.ok).toBe(true);
    value.keys.push('mutated after write');
    const read = await c.readReservations('vol');
    expect(read.value).toEqual({ keys: ['0x1'] });
    const conflict = await c.compareAndSetReservations('vol', 0, { keys: [] });
    expect(conflict).toEqual({ ok: false, current: read });
    const r2 = await c.compareAndSetReservations('vol', read.revision, { keys: [] });
    expect(r2.ok && r2.revision > read.revision).toBe(true);
    await tick();
    expect(seen.map((s) => s[2])).toEqual([read.revision, r2.ok ? r2.revision : -1]);
    expect(await c.awaitReservationsApplied('vol', read.revision, ['solo', 'gone'], 10)).toEqual({
      applied: [],
      missing: ['solo'],
    });
    await c.acknowledgeReservations('vol', read.revision);
    expect(await c.awaitReservationsApplied('vol', read.revision, ['solo', 'gone'], 10)).toEqual({
      applied: ['solo'],
      missing: [],
    });
  });

  it('watches configuration: a snapshot first, then changes in revision order', async () => {
    const c = make();
    await c.start();
    await c.putConfig('targets', 't1', { alias: 'one' });
    const seen: ConfigEvent[] = [];
    await c.watchConfig((e) => seen.push(e));
    expect(seen).toEqual([
      { type: 'snapshot', revision: expect.any(Number), entries: [expect.objectContaining({ name: 't1' })] },
    ]);
    const r = await c.putConfig('luns', 't1/0', { volume: 'v' });
    await expect(c.putConfig('luns', 't1/0', {}, r - 1)).rejects.toMatchObject({
      code: 'TANDEM_ERR_CLUSTER_CONFLICT',
    });
    expect(await c.deleteConfig('luns', 't1/0', r)).toBe(true);
    expect(await c.deleteConfig('luns', 't1/0')).toBe(false);
    await tick();
    expect(seen.slice(1).map((e) => e.type)).toEqual(['put', 'delete']);
    expect(seen[1]!.revision).toBeLessThan(seen[2]!.revision);
  });
});

describe('EmbeddedCoordinator: the configuration in the data directory', () => {
  const entry = {
    kind: 'targets' as const,
    name: 'iqn.2026-11.org.tandem:t',
    value: { iqn: 'iqn.2026-11.org.tandem:t' },
  };

  it('bootstraps the first start only; after that the saved configuration wins', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-embedded-'));
    try {
      const configFile = path.join(dir, 'sub', 'config.json');
      const first = new EmbeddedCoordinator({ node, logger: silentLogger(), configFile, bootstrap: [entry] });
      await first.start();
      expect((await first.readConfig()).entries.map((e) => e.name)).toEqual([entry.name]);
      // The bootstrap is saved only once the node has started on it (persist()), or at the first change.
      expect(fs.existsSync(configFile)).toBe(false);
      await first.persist();
      expect(fs.existsSync(configFile)).toBe(true);
      await first.deleteConfig('targets', entry.name);
      const rev = await first.putConfig('volumes', 'v1', { id: 'v1' });
      await first.close();

      // Same file, same bootstrap: the deletion and the new volume are what the node serves.
      const second = new EmbeddedCoordinator({
        node,
        logger: silentLogger(),
        configFile,
        bootstrap: [entry],
      });
      await second.start();
      const read = await second.readConfig();
      expect(read.entries.map((e) => `${e.kind}/${e.name}@${e.revision}`)).toEqual([`volumes/v1@${rev}`]);
      // Revisions keep growing across restarts: a compare-and-set read before one still conflicts after.
      expect(await second.putConfig('volumes', 'v1', { id: 'v1', size: 1 }, rev)).toBeGreaterThan(rev);
      await expect(second.putConfig('volumes', 'v1', { id: 'v1' }, rev)).rejects.toThrow(/changed since/);
      await second.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an import is saved as one file: a restart serves exactly the imported entries', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-embedded-'));
    try {
      const configFile = path.join(dir, 'config.json');
      const a = new EmbeddedCoordinator({ node, logger: silentLogger(), configFile, bootstrap: [entry] });
      await a.start();
      const seen: ConfigEvent[] = [];
      await a.watchConfig((e) => seen.push(e));
      await a.replaceConfig([{ kind: 'volumes', name: 'v2', value: { id: 'v2' } }]);
      await tick();
      expect(seen.map((e) => e.type)).toEqual(['snapshot', 'delete', 'put']);
      await a.close();
      const saved = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { entries: { name: string }[] };
      expect(saved.entries.map((e) => e.name)).toEqual(['v2']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
