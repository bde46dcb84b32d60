// The one KV layer of the etcd coordinator, on a real etcd: transactions with plain results,
// the leadership guard, create-if-absent, prefix listing at a revision, per-volume watches.
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cmp, EtcdKv, op } from '../../../src/cluster/etcd-kv.js';
import { etcdFaultOptions } from '../../../src/cluster/etcd-retry.js';
import { silentLogger } from '../../../src/util/logger.js';
import { type Etcd, startEtcd } from '../../helpers/etcd.js';

let etcd: Etcd;
let kv: EtcdKv;
const P = '/kv-test/';

beforeAll(async () => {
  etcd = await startEtcd();
  kv = new EtcdKv(
    new Etcd3({ hosts: [etcd.endpoint], credentials: etcd.credentials, ...etcdFaultOptions() }),
    silentLogger(),
  );
});
afterAll(async () => {
  await kv?.closeWatches();
  kv?.closeClient();
});

describe('EtcdKv', () => {
  it('createIfAbsent creates once, then reports what exists', async () => {
    const first = await kv.createIfAbsent('seed', `${P}seed`, [op.put(`${P}seed`, { seed: 'a' })]);
    expect(first.created).toBe(true);
    const again = await kv.createIfAbsent('seed', `${P}seed`, [op.put(`${P}seed`, { seed: 'b' })]);
    expect(again.created).toBe(false);
    expect(JSON.parse(again.existing!.value.toString())).toEqual({ seed: 'a' });
    expect(again.existing!.createRevision).toBe(first.revision);
  });

  it('guarded writes only while the election key exists with that epoch', async () => {
    const leader = `${P}leader`;
    const won = await kv.createIfAbsent('campaign', leader, [op.put(leader, { node: 'n' })]);
    const epoch = won.revision;
    const ok = await kv.guarded('publish', leader, epoch, [op.put(`${P}alua`, { epoch })]);
    expect(ok.succeeded).toBe(true);
    const stale = await kv.guarded('publish', leader, epoch - 1, [op.put(`${P}alua`, { epoch: 0 })]);
    expect(stale.succeeded).toBe(false);
    await kv.txn('delete', { success: [op.delete(leader)] });
    const gone = await kv.guarded('publish', leader, epoch, [op.put(`${P}alua`, { epoch: 1 })]);
    expect(gone.succeeded).toBe(false);
    expect(JSON.parse((await kv.get(`${P}alua`))!.value.toString())).toEqual({ epoch });
  });

  it('reads several ranges at one revision and reports deletions per op', async () => {
    await kv.txn('puts', { success: [op.put(`${P}r/a`, 1), op.put(`${P}r/b`, 2), op.put(`${P}s/x`, 3)] });
    const res = await kv.read('read', [{ key: `${P}r/`, prefix: true }, `${P}s/x`, `${P}none`]);
    expect(res.ranges.map((r) => r.map((e) => e.key))).toEqual([[`${P}r/a`, `${P}r/b`], [`${P}s/x`], []]);
    const listed = await kv.list(`${P}r/`);
    expect(listed.kvs).toHaveLength(2);
    expect(listed.revision).toBeGreaterThanOrEqual(res.revision);
    const del = await kv.txn('del', {
      success: [op.delete({ key: `${P}r/`, prefix: true }), op.delete(`${P}none`)],
    });
    expect(del.deleted).toEqual([2, 0]);
  });

  it('a compare on the mod revision and one on a whole prefix', async () => {
    const w = await kv.txn('put', { success: [op.put(`${P}c/one`, 'x')] });
    const unchanged = await kv.txn('cas', {
      compare: [cmp.unchanged(`${P}c/one`, w.revision), cmp.prefixUnchangedSince(`${P}c/`, w.revision)],
      success: [op.put(`${P}c/two`, 'y')],
    });
    expect(unchanged.succeeded).toBe(true);
    const late = await kv.txn('cas', {
      compare: [cmp.prefixUnchangedSince(`${P}c/`, w.revision)],
      success: [op.put(`${P}c/three`, 'z')],
    });
    expect(late.succeeded, 'c/two was written after that revision').toBe(false);
  });

  it('watchVolumes delivers per volume, then changes and deletions', async () => {
    const base = `${P}v/`;
    await kv.txn('put', { success: [op.put(`${base}vol1`, { n: 1 })] });
    const seen: Array<[string, unknown]> = [];
    const sub = await kv.watchVolumes(
      base,
      (key) => key.slice(base.length),
      (_v, e) => JSON.parse(e.value.toString()) as unknown,
      (volume, value) => seen.push([volume, value]),
    );
    expect(seen).toEqual([['vol1', { n: 1 }]]);
    await kv.txn('put', { success: [op.put(`${base}vol2`, { n: 2 })] });
    await kv.txn('del', { success: [op.delete(`${base}vol1`)] });
    const deadline = Date.now() + 5000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([
      ['vol1', { n: 1 }],
      ['vol2', { n: 2 }],
      ['vol1', undefined],
    ]);
    await sub.close();
  });

  it('refuses new watches once closed', async () => {
    const other = new EtcdKv(
      new Etcd3({ hosts: [etcd.endpoint], credentials: etcd.credentials, ...etcdFaultOptions() }),
      silentLogger(),
    );
    await other.closeWatches();
    other.closeClient();
    expect(() => other.assertOpen()).toThrow(/closed/);
    await expect(other.watch({ key: P }, { snapshot() {}, change() {} })).rejects.toMatchObject({
      code: 'TANDEM_ERR_CLUSTER_CLOSED',
    });
  });
});
