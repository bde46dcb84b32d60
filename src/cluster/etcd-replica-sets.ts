import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { TandemError } from '../util/errors.js';
import type { DataClaim, ReplicaSet, ReplicaSetStore, Subscription, VolumeListener } from './coordinator.js';
import { cmp, op } from './etcd-kv.js';
import type { EtcdPartContext } from './etcd-part.js';
import type { KeyValue } from './etcd-watch.js';
import { datasetSchema, decode } from './records.js';

/** `datasets/<volume>`: the lineage, and the etcd era it was created in (absent before eras were recorded). */
const replicaSetRecordSchema = z.object({ id: z.string().min(1), era: z.string().optional() });

const claimSchema = z.object({
  valid: z.boolean(),
  dataset: z.string(),
  era: z.string(),
  epoch: z.number().int().min(0),
  seq: z.number().int().min(0),
});

/**
 * Replica sets on etcd (DESIGN.md safety rule 2): `datasets/<volume>` names the data lineage,
 * `insync/<volume>/<node>` one key per replica known to hold every acknowledged write. Only the
 * primary adds or removes members, in a transaction guarded by its election key.
 */
export class EtcdReplicaSets implements ReplicaSetStore {
  readonly #ctx: EtcdPartContext;
  #era: string | undefined;

  constructor(ctx: EtcdPartContext) {
    this.#ctx = ctx;
  }

  async era(): Promise<string> {
    const { kv, keys } = this.#ctx;
    const key = keys.era();
    const proposal = randomBytes(12).toString('hex');
    const res = await kv.createIfAbsent('era', key, [op.put(key, { id: proposal })]);
    const era = res.created || !res.existing ? proposal : decode(datasetSchema, key, res.existing.value).id;
    this.#era = era;
    return era;
  }

  async createReplicaSet(volume: string, dataset: string): Promise<boolean> {
    const { kv, keys, nodeName } = this.#ctx;
    kv.assertOpen();
    const key = keys.dataset(volume);
    const era = this.#era ?? (await this.era());
    const res = await kv.createIfAbsent('create replica set', key, [
      op.put(key, { id: dataset, era }),
      op.put(keys.inSyncMember(volume, nodeName), { epoch: 0 }),
      // The claims that chose this founder are spent (finding 4): a later bootstrap starts afresh.
      op.delete({ key: this.#claims(volume), prefix: true }),
    ]);
    if (res.created) return true;
    // A retried txn whose first answer was lost finds its own dataset id.
    return (
      res.existing !== undefined && decode(replicaSetRecordSchema, key, res.existing.value).id === dataset
    );
  }

  async readReplicaSet(volume: string): Promise<ReplicaSet> {
    const { kv, keys } = this.#ctx;
    const res = await kv.read('read replica set', [
      keys.dataset(volume),
      { key: keys.inSync(volume), prefix: true },
    ]);
    const ds = res.ranges[0]![0];
    const members = res.ranges[1]!.map((m) => keys.rest(keys.inSync(volume), m.key)[0]!);
    const record = ds ? decode(replicaSetRecordSchema, keys.dataset(volume), ds.value) : undefined;
    const era = this.#era ?? (await this.era());
    if (ds && record?.era !== undefined && record.era !== era) {
      // Issue 14, finding 4: a record of another era (etcd restored from a snapshot, then a new
      // era started as docs/replication.md says) no longer says who holds every acknowledged
      // write: forget it, in-sync keys included, and let the copies' claims decide.
      await kv.txn('forget replica set of an earlier era', {
        compare: [cmp.unchanged(keys.dataset(volume), ds.modRevision)],
        success: [op.delete(keys.dataset(volume)), op.delete({ key: keys.inSync(volume), prefix: true })],
      });
      this.#ctx.logger.warn(
        { volume, recordEra: record.era, era, inSync: members },
        'replica set of an earlier etcd era forgotten: the copies decide which holds the newest data',
      );
      return { dataset: undefined, inSync: [] };
    }
    return { dataset: record?.id, inSync: members.sort() };
  }

  async watchReplicaSets(listener: VolumeListener<ReplicaSet>): Promise<Subscription> {
    const { kv, keys, logger } = this.#ctx;
    // Any change under insync/ or datasets/ re-reads that volume's set (few, small keys).
    const base = keys.inSyncAll();
    const datasets = keys.datasets();
    // One read at a time per volume, in event order: a later read never reports older state.
    const chains = new Map<string, Promise<void>>();
    const reread = (volume: string, rev: number) => {
      const next = (chains.get(volume) ?? Promise.resolve()).then(() =>
        this.readReplicaSet(volume).then(
          (set) => listener(volume, set.dataset || set.inSync.length > 0 ? set : undefined, rev),
          (err: unknown) => logger.warn({ err, volume }, 'reading a replica set failed'),
        ),
      );
      chains.set(volume, next);
    };
    const watchUnder = (prefix: string) => {
      const volumeOf = (key: string) => keys.rest(prefix, key)[0]!;
      const volumes = (kvs: readonly KeyValue[]) => new Set(kvs.map((e) => volumeOf(e.key)));
      return kv.watch(
        { key: prefix, prefix: true },
        {
          snapshot: (kvs, rev) => {
            for (const v of volumes(kvs)) reread(v, rev);
          },
          change: (ev, rev) => reread(volumeOf(ev.key), rev),
        },
      );
    };
    const a = await watchUnder(base);
    const b = await watchUnder(datasets);
    return {
      close: async () => {
        await a.close();
        await b.close();
      },
    };
  }

  async setInSync(volume: string, epoch: number, node: string, inSync: boolean): Promise<void> {
    const { kv, keys, logger } = this.#ctx;
    kv.assertOpen();
    const member = keys.inSyncMember(volume, node);
    const res = await kv.guarded(
      `${inSync ? 'add to' : 'remove from'} in-sync set`,
      keys.leader(volume),
      epoch,
      [inSync ? op.put(member, { epoch }) : op.delete(member)],
    );
    if (!res.succeeded) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_NOT_LEADER',
        `${volume}: election key with epoch ${epoch} is gone; in-sync set unchanged`,
      );
    }
    logger.info({ volume, node, inSync, epoch }, inSync ? 'replica in sync' : 'replica out of sync');
  }

  async leaveInSync(volume: string): Promise<void> {
    const { kv, keys, logger, nodeName } = this.#ctx;
    kv.assertOpen();
    await kv.txn('leave in-sync set', { success: [op.delete(keys.inSyncMember(volume, nodeName))] });
    logger.warn({ volume }, 'left the in-sync set: this replica must be resynced');
  }

  async leaveInSyncWhile(volume: string, other: string): Promise<boolean> {
    const { kv, keys, logger, nodeName } = this.#ctx;
    kv.assertOpen();
    const res = await kv.txn('leave in-sync set while another member is in it', {
      compare: [cmp.present(keys.inSyncMember(volume, other))],
      success: [op.delete(keys.inSyncMember(volume, nodeName))],
    });
    if (res.succeeded) logger.warn({ volume, other }, 'left the in-sync set: this replica must be resynced');
    return res.succeeded;
  }

  async deleteReplicaSet(volume: string): Promise<void> {
    const { kv, keys } = this.#ctx;
    await kv.txn('delete replica set', {
      success: [
        op.delete(keys.dataset(volume)),
        op.delete({ key: keys.inSync(volume), prefix: true }),
        op.delete({ key: this.#claims(volume), prefix: true }),
      ],
    });
  }

  /** `claims/<volume>/<node>`: what each node's copy holds while etcd has no set (finding 4). */
  #claims(volume: string): string {
    return `${this.#ctx.keys.prefix}claims/${encodeURIComponent(volume)}/`;
  }

  async publishDataClaim(volume: string, claim: DataClaim): Promise<void> {
    const { kv, keys, nodeName } = this.#ctx;
    kv.assertOpen();
    keys.dataset(volume); // validates the name
    const { valid, dataset, era, epoch, seq } = claim;
    await kv.txn('publish data claim', {
      success: [
        op.put(this.#claims(volume) + encodeURIComponent(nodeName), { valid, dataset, era, epoch, seq }),
      ],
    });
  }

  async readDataClaims(volume: string): Promise<ReadonlyMap<string, DataClaim>> {
    const { kv, keys } = this.#ctx;
    const base = this.#claims(volume);
    const res = await kv.read('read data claims', [{ key: base, prefix: true }]);
    const claims = new Map<string, DataClaim>();
    for (const e of res.ranges[0]!)
      claims.set(keys.rest(base, e.key)[0]!, decode(claimSchema, e.key, e.value));
    return claims;
  }
}
