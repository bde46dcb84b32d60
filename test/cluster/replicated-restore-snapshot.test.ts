// Issue 14, finding 4 and check 4, the etcd restore: etcd is restored from a copy of its data
// taken while both replicas were in sync, so its replica set lists b as in sync although b has
// since missed writes. The operator starts a new era before starting the nodes (the documented
// step, docs/replication.md "When etcd forgets": delete the era key); the nodes then forget the
// replica set of the earlier era and the copies decide. b is started first and must wait; a
// starts, founds the set again from its newer copy, and b is resynced from it (read back through
// b once a is killed). The status says which in each phase, as in replicated-restore.test.ts.
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'vitest';
import { etcdInfo, restoreFixture, sleep } from './restore-support.js';

describe('finding 4: after an etcd restore and a new era, the newest copy stays the source', () => {
  const fx = restoreFixture();

  it('the stale node listed in sync by the restored etcd waits; a founds the set and b is resynced', async () => {
    const { cluster } = fx;
    const snapshot = path.join(cluster.dir, 'etcd-snapshot');
    await fx.run({
      // A crash-consistent copy of etcd's data (etcd frozen for the copy), as a backup is.
      inSync: async () => {
        await sleep(500);
        cluster.stopEtcd();
        try {
          await cp(etcdInfo(cluster).etcdDataDir, snapshot, { recursive: true });
        } finally {
          cluster.contEtcd();
        }
      },
      prepare: async (dir) => {
        await rm(dir, { recursive: true, force: true });
        await cp(snapshot, dir, { recursive: true });
      },
      // The operator's step after a restore: a new era.
      etcdUp: async (client) => {
        await client.delete().key('/tandem/local/era');
      },
    });
  }, 300_000);
});
