import { randomUUID } from 'node:crypto';
import type { Logger } from '../util/logger.js';
import type { InSyncSet } from './replication-interface.js';

/**
 * What the replica-set lifecycle needs of the cluster (DESIGN.md safety rule 2): the in-sync set
 * per volume, changed by leader-guarded transactions. Declared here, where it is used; the node
 * runtime adapts its Coordinator to it (replication imports no cluster code).
 */
export interface ReplicaSetStore {
  readReplicaSet(
    volume: string,
  ): Promise<{ readonly dataset: string | undefined; readonly inSync: readonly string[] }>;
  /** Creates the set with this node as its only in-sync member, only if none exists. */
  createReplicaSet(volume: string, dataset: string): Promise<boolean>;
  /** Leader-guarded at `epoch`. */
  setInSync(volume: string, epoch: number, node: string, inSync: boolean): Promise<void>;
  /** This node steps out of the set without leadership. */
  leaveInSync(volume: string): Promise<void>;
  /** Names of the nodes whose session is live. */
  liveNodes(): Promise<readonly string[]>;
}

/** The local replica as the lifecycle governs it (ReplicatedVolume's public API). */
export interface GovernedReplica {
  readonly hasValidData: boolean;
  status(): { readonly datasetId: string };
  initDataset(datasetId: string): Promise<void>;
  becamePrimary(epoch: number): Promise<void>;
}

export interface ReplicaSetLifecycleOptions {
  readonly node: string;
  readonly store: ReplicaSetStore;
  readonly logger: Logger;
  /** The in-sync set as the cluster last delivered it (a watch): used while not primary. */
  readonly watchedInSync: (volume: string) => readonly string[] | undefined;
}

/**
 * Bootstrap of a replicated volume's replica set, the rule-2 check of the local store, and the
 * in-sync set the mirror consults, for every replicated volume this node serves.
 */
export class ReplicaSetLifecycle {
  readonly #o: ReplicaSetLifecycleOptions;
  /**
   * While primary of a volume: the in-sync set as this node last wrote it. During a term only
   * the primary changes the set (leader-guarded txns), so its own copy is exact, and never lags
   * behind an add it has just made the way a watch could.
   */
  readonly #primaryInSync = new Map<string, Set<string>>();

  constructor(opts: ReplicaSetLifecycleOptions) {
    this.#o = opts;
  }

  /** The in-sync set of `volume` as the mirror sees it (ReplicatedVolumeOptions.inSync). */
  inSyncSet(volume: string): InSyncSet {
    const store = this.#o.store;
    return {
      members: () => this.#primaryInSync.get(volume) ?? new Set(this.#o.watchedInSync(volume) ?? []),
      remove: async (node, epoch) => {
        await store.setInSync(volume, epoch, node, false);
        this.#primaryInSync.get(volume)?.delete(node);
      },
      add: async (node, epoch) => {
        // Counted as in sync from before the txn: a write racing the add waits for the peer.
        this.#primaryInSync.get(volume)?.add(node);
        await store.setInSync(volume, epoch, node, true);
      },
    };
  }

  /**
   * Won the election of a volume: before publishing Active/Optimized, the mirror must be ready.
   * The in-sync set is read fresh (this node's copy for the term), and members whose session is
   * gone (a dead primary) leave it at once: the first write does not wait for a peer that cannot
   * answer (DESIGN.md Failover: the new primary records the old one as out of sync).
   */
  async becamePrimary(volume: string, epoch: number, replica: GovernedReplica): Promise<void> {
    const store = this.#o.store;
    const set = await store.readReplicaSet(volume);
    const live = new Set(await store.liveNodes());
    const inSync = new Set(set.inSync);
    this.#primaryInSync.set(volume, inSync);
    for (const node of set.inSync) {
      if (node === this.#o.node || live.has(node)) continue;
      await store.setInSync(volume, epoch, node, false);
      inSync.delete(node);
    }
    await replica.becamePrimary(epoch);
  }

  /** The term is over: the watched set is the truth again. */
  lostPrimary(volume: string): void {
    this.#primaryInSync.delete(volume);
  }

  /**
   * After the local replica has opened: a new volume's first node creates its lineage (after
   * `waitForPreferred`, so a preferred node that is up creates it); a store etcd lists as in
   * sync but that is not that dataset leaves the set (rule 2: it must never promote).
   */
  async bootstrap(
    volume: string,
    replica: GovernedReplica,
    preferred: string | undefined,
    waitForPreferred: () => Promise<void>,
  ): Promise<void> {
    const { store, node: me, logger: log } = this.#o;
    let set = await store.readReplicaSet(volume);
    if (set.dataset === undefined && preferred !== me) {
      await waitForPreferred();
      set = await store.readReplicaSet(volume);
    }
    if (set.dataset === undefined) {
      // A new volume: the first node to get here creates its lineage and is its first in-sync
      // replica; every other replica starts out of sync and is resynced from it.
      const id = randomUUID();
      if (await store.createReplicaSet(volume, id)) {
        await replica.initDataset(id);
        log.info({ volume, dataset: id }, 'replicated volume created: first in-sync replica');
      }
    } else if (
      set.inSync.includes(me) &&
      (!replica.hasValidData || replica.status().datasetId !== set.dataset)
    ) {
      // etcd counts this store as holding every acknowledged write, but it is not that store
      // (replaced disk, lost metadata): never let it promote; the primary resyncs it.
      log.warn(
        { volume, dataset: set.dataset, local: replica.status().datasetId || null },
        'local replica is not the one etcd lists as in sync: leaving the in-sync set',
      );
      await store.leaveInSync(volume);
    }
  }
}
