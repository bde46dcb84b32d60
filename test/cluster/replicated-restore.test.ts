// Issue 14, finding 4 and check 4: a restore must not make a stale replica the truth. On a real
// 2-node replicated cluster: a pattern is written with both replicas in sync; b is killed; a newer
// pattern is written through a (a removes b from the in-sync set); the cluster goes down. etcd
// comes back empty (its data directory removed; the nodes' bootstrap section writes the
// configuration again, as a config import into an empty etcd does) and the stale node b is
// started first: it must not found a new lineage but wait, saying for whom. Then a starts: a's
// newer data must be what is served, and b is resynced from it (read back through b once a is
// killed and b has taken over). GetStatus and `tandemctl status`, asked of b, say which in each
// phase: b waits for a; then a is the source and b is resynced from it, with the rate and ETA.
import { rm } from 'node:fs/promises';
import { describe, it } from 'vitest';
import { restoreFixture } from './restore-support.js';

describe('finding 4: after etcd forgot the replica set, the newest copy stays the source', () => {
  const fx = restoreFixture();

  it('the stale node started first waits; the node with the newer data founds the set and b is resynced from it', async () => {
    await fx.run({ prepare: (dir) => rm(dir, { recursive: true, force: true }) });
  }, 300_000);
});
