// Issue 14, finding 4 and check 4: a restore must not make a stale replica the truth. On a real
// 2-node replicated cluster: a pattern is written with both replicas in sync; b is killed; a newer
// pattern is written through a (a removes b from the in-sync set); the cluster goes down. etcd
// comes back empty (its data directory removed; the nodes' bootstrap section writes the
// configuration again, as a config import into an empty etcd does) and the stale node b is
// started first: it must not found a new lineage but wait, saying for whom. Then a starts: a's
// newer data must be what is served, and b is resynced from it (read back through b once a is
// killed and b has taken over). GetStatus and `tandemctl status`, asked of b, say which in each
// phase: b waits for a; then a is the source and b is resynced from it, with the rate and ETA.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type Cluster, startCluster, TANDEMCTL } from '../helpers/cluster.js';
import { requireTools } from '../helpers/tools.js';
import { staleFirstAfterRestore } from './restore-support.js';

describe('finding 4: after etcd forgot the replica set, the newest copy stays the source', () => {
  let cluster: Cluster;
  let etcd: ChildProcess | undefined;

  beforeAll(async () => {
    requireTools('qemu-io');
    if (!existsSync(TANDEMCTL)) throw new Error(`${TANDEMCTL} not found: run \`npm run build\` first`);
    cluster = await startCluster({ nodes: 2, kind: 'replicated', size: '32M', ttl: 3 });
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
    etcd?.kill('SIGKILL');
  }, 60_000);

  it('the stale node started first waits; the node with the newer data founds the set and b is resynced from it', async () => {
    await staleFirstAfterRestore(
      cluster,
      { prepare: (dir) => rm(dir, { recursive: true, force: true }) },
      (e) => (etcd = e),
    );
  }, 300_000);
});
