// The primary's in-sync set changes (rule 2): a failed removal is retried a bounded number of
// times while the node may still serve, then the write waiting on it fails FENCED.
import { afterEach, describe, expect, it } from 'vitest';
import { isReplicationError } from '../../../src/replication/errors.js';
import { type Cluster, cluster, MiB, pattern, peerState, until } from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

async function twoInSync(): Promise<Cluster> {
  c = await cluster({ names: ['a', 'b'], size: 4 * MiB, inSync: ['a', 'b'] });
  for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
  const a = c.node('a');
  a.canServe = true;
  await a.volume.becamePrimary(1);
  await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
  return c;
}

const removals = (cl: Cluster) => cl.inSync.log.filter((l) => l === 'remove b @1').length;

describe('in-sync set removal retries', () => {
  it('rides out failures within the bound: the write is acknowledged once the removal commits', async () => {
    const cl = await twoInSync();
    cl.inSync.failRemoves = 4;
    cl.node('b').kill();
    await cl.node('a').volume.blockDevice.write(0, pattern(4096, 1), false);
    expect(cl.inSync.set.has('b')).toBe(false);
    expect(removals(cl)).toBe(5);
  });

  it('gives up after 5 calls (50+100+200+400 ms apart) while still primary: FENCED, no ack', async () => {
    const cl = await twoInSync();
    cl.inSync.failRemoves = Number.POSITIVE_INFINITY;
    cl.node('b').kill();
    const started = Date.now();
    const err = await cl
      .node('a')
      .volume.blockDevice.write(0, pattern(4096, 2), false)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isReplicationError(err, 'TANDEM_ERR_REPLICATION_FENCED')).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(cl.inSync.set.has('b')).toBe(true);
    expect(removals(cl)).toBe(5);
  });
});
