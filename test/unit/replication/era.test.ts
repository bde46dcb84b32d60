// Epochs are etcd revisions, comparable only within one etcd cluster ("era"): a copy whose epoch
// history belongs to a replaced etcd starts it again (else, after a restore into a new etcd, no
// node could become primary until the new revisions caught up), and a primary of another era is
// refused outright.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { ReplicatedVolume } from '../../../src/replication/index.js';
import { FakeInSync, MiB } from './harness.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function volume(stateDir: string, era: string): ReplicatedVolume {
  return new ReplicatedVolume({
    volume: 'vol1',
    node: 'b',
    logger: pino({ level: 'silent' }),
    device: new MemoryDevice(4 * MiB),
    stateDir,
    inSync: new FakeInSync('a', 'b'),
    peers: () => [],
    replicas: () => ['a'],
    canServeWrites: () => false,
    era,
  });
}

const hello = (epoch: number, era: string) => ({
  volume: 'vol1',
  epoch,
  primaryNode: 'a',
  datasetId: 'ds1',
  regionSize: MiB,
  size: 4 * MiB,
  era,
  committedSize: 4 * MiB,
});

describe('etcd era', () => {
  it('keeps the highest epoch within an era and restarts it in a new one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-era-'));
    dirs.push(dir);
    const v1 = volume(dir, 'era-1');
    await v1.open();
    await v1.acceptHello(hello(50, 'era-1'));
    expect(v1.status().highestEpoch).toBe(50);
    await v1.close();

    const same = volume(dir, 'era-1');
    await same.open();
    expect(same.status().highestEpoch).toBe(50);
    await expect(same.acceptHello(hello(7, 'era-1'))).rejects.toMatchObject({
      code: 'TANDEM_ERR_REPLICATION_STALE_EPOCH',
    });
    await same.close();

    const restored = volume(dir, 'era-2');
    await restored.open();
    expect(restored.status().highestEpoch).toBe(0);
    await restored.acceptHello(hello(7, 'era-2'));
    expect(restored.status().highestEpoch).toBe(7);
    await restored.close();
  });

  it('refuses a Hello from a primary of another etcd cluster, whatever its epoch', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tandem-era-'));
    dirs.push(dir);
    const v = volume(dir, 'era-2');
    await v.open();
    await expect(v.acceptHello(hello(1_000_000, 'era-1'))).rejects.toMatchObject({
      code: 'TANDEM_ERR_REPLICATION_STALE_EPOCH',
    });
    expect(v.status().highestEpoch).toBe(0);
    await v.close();
  });

  // Found by CI: open() records the replica nodes in the background, and close() returned
  // before that metadata write ended, so the state directory changed after close (a tmp file
  // appeared, the test's cleanup failed with ENOTEMPTY).
  it('close() waits for every metadata write open() started', async () => {
    for (let i = 0; i < 20; i++) {
      const dir = await mkdtemp(path.join(tmpdir(), 'tandem-era-'));
      dirs.push(dir);
      const v = volume(dir, 'era-1');
      await v.open();
      await v.close();
      expect((await readdir(dir)).sort()).toEqual(['vol1.bitmap', 'vol1.meta.json']);
      const meta = JSON.parse(await readFile(path.join(dir, 'vol1.meta.json'), 'utf8')) as {
        replicaNodes: string[];
      };
      expect(meta.replicaNodes).toEqual(['a']);
    }
  });
});
