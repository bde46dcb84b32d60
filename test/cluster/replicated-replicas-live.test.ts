// Issue #15: `tandemctl volume replicas remove|add` on a live three-way volume under writes. The
// primary cannot be removed (switch over first); a removed replica leaves the in-sync set and
// forgets its copy; added back, it is resynced in full (the primary's bitmap stopped tracking
// what it lacks while it was out) and joins; `tandemctl status` shows every replica's state on
// the way; `tandemctl verify` then finds the three copies identical and no write is lost.
import { describe, expect, it } from 'vitest';
import { tandemctl, pollFor as waitFor, waitThreeInSync } from '../helpers/cluster.js';
import { threeWayCluster } from '../helpers/cluster-fixture.js';
import { explain } from '../helpers/tools.js';
import { StampedWriters } from '../helpers/write-log.js';

const VOLUME = 'vol0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface VolumeJson {
  id: string;
  replicas: string[];
  inSync: string[];
  primary: string;
  replicaStates: { node: string; state: string }[];
}

describe('volume replicas remove|add on a live three-way volume', () => {
  const fx = threeWayCluster({
    size: '64M',
    initiatorName: 'iqn.2026-11.org.tandem.test:replicas-live',
    retryWindowMs: 20_000,
  });

  it('removes a replica and adds it back under writes: a full resync, then in sync; the primary cannot be removed', async () => {
    const { cluster, mp } = fx;
    const primary = await waitThreeInSync(cluster, mp, { volume: VOLUME });
    const admin = cluster.node(primary).admin!;
    const status = async (): Promise<VolumeJson> => {
      const r = await tandemctl(admin, ['--json', 'status'], 15_000);
      expect(r.code, explain(r)).toBe(0);
      return (JSON.parse(r.stdout) as { volumes: VolumeJson[] }).volumes.find((v) => v.id === VOLUME)!;
    };
    const peer = cluster.names.find((n) => n !== primary)!;

    const writers = new StampedWriters(mp, { writers: 4, slotsPerWriter: 64 });
    writers.start();
    await sleep(500);

    const refused = await tandemctl(admin, ['volume', 'replicas', 'remove', VOLUME, primary], 15_000);
    expect(refused.code, explain(refused)).toBe(1);
    expect(refused.stderr).toContain(`${primary} is its primary; move the role first`);

    const rm = await tandemctl(admin, ['volume', 'replicas', 'remove', VOLUME, peer], 15_000);
    expect(rm.code, explain(rm)).toBe(0);
    let v = await waitFor(`${peer} out of the in-sync set`, 20_000, async () => {
      const s = await status();
      return s.inSync.includes(peer) ? undefined : s;
    });
    expect(v.replicas).not.toContain(peer);
    expect(v.replicaStates.map((r) => r.node)).not.toContain(peer);
    expect(v.inSync.sort()).toEqual(cluster.names.filter((n) => n !== peer).sort());
    await waitFor(`${peer} forgets its copy`, 20_000, () =>
      cluster
        .node(peer)
        .logs()
        .some((l) => String(l.msg).startsWith('no longer a replica of the volume'))
        ? true
        : undefined,
    );
    await sleep(3000); // writes while it is out, and the primary cleans its bitmap meanwhile

    const addAt = Date.now();
    const add = await tandemctl(
      admin,
      ['--json', 'volume', 'replicas', 'add', VOLUME, peer, '--wait', '60'],
      90_000,
    );
    expect(add.code, explain(add)).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ inSync: true });
    await writers.stop();
    const resync = cluster
      .node(primary)
      .logs()
      .find((l) => l.msg === 'resync started' && l.peer === peer && l.time >= addAt);
    expect(resync, 'the added replica was resynced').toBeDefined();
    expect(resync!.full, 'in full, not from the bitmap').toBe(true);
    v = await status();
    expect(v.inSync.sort()).toEqual([...cluster.names].sort());
    expect(v.replicaStates.map((r) => r.state).sort()).toEqual(['in-sync', 'in-sync', 'primary']);

    const ver = await tandemctl(admin, ['--json', 'verify', VOLUME], 60_000);
    expect(ver.code, explain(ver)).toBe(0);
    expect((JSON.parse(ver.stdout) as { differing: unknown[] }).differing).toEqual([]);
    const check = await writers.verify();
    expect(check.problems, check.problems.slice(0, 10).join('\n')).toEqual([]);
    expect(check.checked).toBeGreaterThan(4 * 64 * 0.9);
  }, 150_000);
});
