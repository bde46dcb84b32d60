import { randomUUID } from 'node:crypto';
import type { Logger } from '../util/logger.js';
import { compareGenerations, type DataGeneration } from './metadata.js';
import type { InSyncSet } from './replication-interface.js';

/** What a node's copy holds, published while etcd has no replica set (cluster DataClaim). */
export interface DataClaim extends DataGeneration {
  readonly valid: boolean;
  readonly dataset: string;
}

/**
 * How a volume recovers after etcd lost its replica set (issue 14, check 4), for status:
 *   waiting-for-replicas  not every replica has said what its copy holds (`missing`: start them);
 *   waiting-for-newest    another copy (`source`) holds newer data: it re-creates the set;
 *   waiting-for-operator  copies of two etcd eras, not comparable (docs/replication.md);
 *   resync-from-newest    the set was re-created from `source`'s copy: this one is resynced from it;
 *   source                the set was re-created from this copy: the others are resynced from it.
 */
export type RecoveryState =
  | 'waiting-for-replicas'
  | 'waiting-for-newest'
  | 'waiting-for-operator'
  | 'resync-from-newest'
  | 'source';

export interface ReplicaSetRecovery {
  readonly state: RecoveryState;
  /** The node holding the newest data, once known ('' before). */
  readonly source: string;
  /** waiting-for-replicas: the replicas whose claim is missing; source: those not in sync yet. */
  readonly missing: readonly string[];
  /** What this copy holds. */
  readonly generation: DataGeneration;
  /** waiting-for-newest: what the newest copy (`source`) holds. */
  readonly newest?: DataGeneration;
  /** In words, as the node logs it. */
  readonly reason: string;
}

/** A recovery as recorded; the last two states end once the copies named are in sync. */
interface RecoveryRecord extends ReplicaSetRecovery {
  /** resync-from-newest: this node; source: the other replicas. */
  readonly pending: readonly string[];
  readonly stopped: () => boolean;
}

/** How often a node waiting for the other replicas' claims looks again. */
const CLAIM_POLL_MS = 500;

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
  /**
   * This node steps out of the set without leadership, only while `other` is a member (one
   * transaction: of two nodes doing it at once, one stays). Resolves whether it stepped out.
   */
  leaveInSyncWhile(volume: string, other: string): Promise<boolean>;
  /** Names of the nodes whose session is live. */
  liveNodes(): Promise<readonly string[]>;
  publishDataClaim(volume: string, claim: DataClaim): Promise<void>;
  readDataClaims(volume: string): Promise<ReadonlyMap<string, DataClaim>>;
}

/** The local replica as the lifecycle governs it (ReplicatedVolume's public API). */
export interface GovernedReplica {
  readonly hasValidData: boolean;
  /**
   * The copy holds every write it acknowledged (it opened with a clean bitmap, or was resynced
   * since): false after a restart with dirty regions, which a power cut may have emptied.
   */
  readonly intact: boolean;
  readonly dataGeneration: DataGeneration;
  /** Other nodes this copy has known as replicas of the volume (they are waited for too). */
  readonly knownReplicas: readonly string[];
  status(): { readonly datasetId: string };
  initDataset(datasetId: string): Promise<void>;
  /** `inSyncAtElection`: the in-sync set read once the election was won (the peers it tracks). */
  becamePrimary(epoch: number, inSyncAtElection?: readonly string[]): Promise<void>;
  /** This node, primary at `epoch`, removed a peer from the in-sync set (its data is now newer). */
  noteRemoval(epoch: number): Promise<void>;
}

/** Where a replica set that etcd does not hold comes from (bootstrap). */
export interface BootstrapScope {
  /** Every node holding a replica of the volume, this one included. */
  readonly replicas: () => readonly string[];
  /** True once the volume is no longer served here (stops a wait for claims). */
  readonly stopped: () => boolean;
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
  /** The local replica of each volume, once bootstrapped. */
  readonly #governed = new Map<string, GovernedReplica>();
  /** Why a volume is not served yet, while it waits for other nodes' claims (status, logs). */
  readonly #waiting = new Map<string, string>();
  /** The same wait, and after it the resync from the newest copy, as status shows them. */
  readonly #recovery = new Map<string, RecoveryRecord>();

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
        await this.#governed.get(volume)?.noteRemoval(epoch);
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
   *
   * The set is read from the store, never taken from the watch, which can lag: a peer the old
   * primary removed just before it died would still show there, count as in sync and tracked,
   * and rejoin without the writes it missed (tracked-election.test.ts). etcd answers the read
   * (a transaction) linearizably, after the campaign won: it holds every change of the old
   * term, and from then on only this node's leader-guarded txns can add a member.
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
      await replica.noteRemoval(epoch);
    }
    // Members removed just now as dead missed nothing of an earlier term: this term's bitmap
    // names all they lack, so they stay tracked (an incremental resync when they return).
    await replica.becamePrimary(epoch, set.inSync);
  }

  /** The term is over: the watched set is the truth again. */
  lostPrimary(volume: string): void {
    this.#primaryInSync.delete(volume);
  }

  /** Why `volume` waits for other nodes before it can be served; undefined: it does not. */
  waiting(volume: string): string | undefined {
    return this.#waiting.get(volume);
  }

  /**
   * How `volume` recovers after etcd lost its replica set (issue 14, check 4); undefined: it
   * does not (any more). A resync from the newest copy ends once the copies are in sync.
   */
  recovery(volume: string): ReplicaSetRecovery | undefined {
    const r = this.#recovery.get(volume);
    if (!r) return undefined;
    if (r.state !== 'resync-from-newest' && r.state !== 'source') return publicRecovery(r, r.missing);
    const inSync = this.inSyncSet(volume).members();
    const pending = r.pending.filter((n) => !inSync.has(n));
    if (r.stopped() || pending.length === 0) {
      this.#recovery.delete(volume);
      return undefined;
    }
    if (r.state === 'resync-from-newest') return publicRecovery(r, []);
    return publicRecovery(
      {
        ...r,
        reason: `the replica set of ${volume} was re-created from this copy (the newest data): ${pending.join(', ')} ${pending.length > 1 ? 'are' : 'is'} resynced from it`,
      },
      pending,
    );
  }

  /**
   * After the local replica has opened: a new volume's first node creates its lineage (after
   * `waitForPreferred`, so a preferred node that is up creates it); a store etcd lists as in
   * sync but that is not that dataset leaves the set (rule 2: it must never promote).
   *
   * Issue 14, finding 4: etcd without a replica set for a volume whose copies hold data (a config
   * import into an empty etcd, a new era) must not let whichever node comes first create a new
   * lineage and resync the others from it. Every node publishes what its copy holds; once every
   * replica has, the copy with the newest data generation founds the set again with its own
   * dataset id (the others, same lineage, are resynced from it through the bitmaps). Until then
   * the volume waits, and says for whom.
   */
  async bootstrap(
    volume: string,
    replica: GovernedReplica,
    preferred: string | undefined,
    waitForPreferred: () => Promise<void>,
    scope: BootstrapScope = { replicas: () => [this.#o.node], stopped: () => false },
  ): Promise<void> {
    const { store, node: me, logger: log } = this.#o;
    this.#governed.set(volume, replica);
    let set = await store.readReplicaSet(volume);
    if (set.dataset === undefined) {
      const mine = claimOf(replica);
      await store.publishDataClaim(volume, mine);
      const claims = await store.readDataClaims(volume);
      if ([...claims.values()].some((c) => c.valid)) {
        // Not awaited: the node serves its other volumes meanwhile; this one stays unavailable
        // (no in-sync set, so no campaign can win) until the set exists.
        void this.#settleFromClaims(volume, replica, preferred, scope).catch((err: unknown) =>
          log.error({ err, volume }, 'could not re-create the replica set from the data claims'),
        );
        return;
      }
      if (preferred !== me) {
        await waitForPreferred();
        set = await store.readReplicaSet(volume);
      }
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
    } else if (set.inSync.includes(me) && !replica.intact) {
      await this.#yieldToIntact(volume, set.inSync);
    }
  }

  /**
   * This copy restarted with dirty regions: it may have lost writes there that it never flushed
   * (a power cut), acknowledged ones among them, which every other member holds (rule 1). While
   * such a member is live it must not win the election (and then resync its copy over theirs):
   * this node steps out of the in-sync set and is resynced by the primary (DESIGN.md Failover: a
   * node that returns rejoins as out of sync). With no other live member it stays, the only
   * copy that can serve; of two such nodes doing this at once one stays (leaveInSyncWhile).
   */
  async #yieldToIntact(volume: string, inSync: readonly string[]): Promise<void> {
    const { store, node: me, logger: log } = this.#o;
    const live = new Set(await store.liveNodes());
    for (const other of inSync) {
      if (other === me || !live.has(other)) continue;
      if (await store.leaveInSyncWhile(volume, other)) {
        log.warn(
          { volume, inSync: other },
          'restarted with dirty regions (writes never flushed may be lost): left the in-sync set to be resynced',
        );
        return;
      }
    }
  }

  /** Waits for every replica's claim; the newest copy's node creates the set (see bootstrap). */
  async #settleFromClaims(
    volume: string,
    replica: GovernedReplica,
    preferred: string | undefined,
    scope: BootstrapScope,
  ): Promise<void> {
    const { store, node: me, logger: log } = this.#o;
    let said = '';
    const generation = replica.dataGeneration;
    const record = (r: Omit<RecoveryRecord, 'generation' | 'stopped' | 'pending'>, pending: string[] = []) =>
      this.#recovery.set(volume, { ...r, generation, pending, stopped: scope.stopped });
    const wait = (why: string, r?: Omit<RecoveryRecord, 'generation' | 'stopped' | 'pending' | 'reason'>) => {
      this.#waiting.set(volume, why);
      record({ ...(r ?? { state: 'waiting-for-operator', source: '', missing: [] }), reason: why });
      if (why !== said) log.warn({ volume }, `waiting: ${why}`);
      said = why;
    };
    let settled = false;
    try {
      while (!scope.stopped()) {
        const set = await store.readReplicaSet(volume);
        if (set.dataset !== undefined) {
          log.info(
            { volume, dataset: set.dataset, inSync: set.inSync },
            'replica set re-created from the newest data',
          );
          const source = set.inSync.find((n) => n !== me) ?? '';
          if (source && !set.inSync.includes(me)) {
            record(
              {
                state: 'resync-from-newest',
                source,
                missing: [],
                reason: `the replica set of ${volume} was re-created from ${source}'s copy (the newest data): this copy is resynced from it`,
              },
              [me],
            );
            settled = true;
          }
          return;
        }
        const claims = await store.readDataClaims(volume);
        // The replicas etcd knows of now, and those this copy knew before etcd was lost.
        const missing = [...new Set([me, ...scope.replicas(), ...replica.knownReplicas])]
          .filter((n) => !claims.has(n))
          .sort();
        if (missing.length > 0) {
          wait(
            `etcd has no replica set for ${volume} and copies here hold data: waiting for ${missing.join(', ')} to report what its copy holds (start it)`,
            { state: 'waiting-for-replicas', source: '', missing },
          );
        } else {
          const best = newest(claims, preferred);
          if (typeof best === 'string') wait(best);
          else if (best.node === me) {
            const mine = claims.get(me)!;
            if (await store.createReplicaSet(volume, mine.dataset)) {
              log.info(
                { volume, dataset: mine.dataset, generation: { epoch: mine.epoch, seq: mine.seq } },
                'replica set re-created from this copy: it holds the newest data; the others are resynced from it',
              );
              const others = [...claims.keys()].filter((n) => n !== me).sort();
              record({ state: 'source', source: me, missing: others, reason: '' }, others);
              settled = true;
              return;
            }
          } else {
            const c = claims.get(best.node)!;
            wait(
              `${best.node} holds the newest data of ${volume}: waiting for it to re-create the replica set`,
              {
                state: 'waiting-for-newest',
                source: best.node,
                missing: [],
                newest: { era: c.era, epoch: c.epoch, seq: c.seq },
              },
            );
          }
        }
        await new Promise((r) => setTimeout(r, CLAIM_POLL_MS));
      }
    } finally {
      this.#waiting.delete(volume);
      if (!settled) this.#recovery.delete(volume);
    }
  }
}

function publicRecovery(r: ReplicaSetRecovery, missing: readonly string[]): ReplicaSetRecovery {
  return {
    state: r.state,
    source: r.source,
    missing,
    generation: r.generation,
    ...(r.newest ? { newest: r.newest } : {}),
    reason: r.reason,
  };
}

function claimOf(replica: GovernedReplica): DataClaim {
  const valid = replica.hasValidData && replica.status().datasetId !== '';
  return { valid, dataset: valid ? replica.status().datasetId : '', ...replica.dataGeneration };
}

/**
 * The node whose valid claim is the newest (ties: the preferred node, then by name), or why
 * none can be chosen without the operator (generations of two eras).
 */
function newest(
  claims: ReadonlyMap<string, DataClaim>,
  preferred: string | undefined,
): { node: string } | string {
  const valid = [...claims].filter(([, c]) => c.valid);
  let best: [string, DataClaim] | undefined;
  for (const entry of valid) {
    if (!best) {
      best = entry;
      continue;
    }
    const cmp = compareGenerations(entry[1], best[1]);
    if (cmp === undefined) {
      return `the copies on ${best[0]} and ${entry[0]} hold data of different etcd eras: the operator must choose (docs/replication.md, When etcd forgets)`;
    }
    const tie = cmp === 0 && (entry[0] === preferred || (best[0] !== preferred && entry[0] < best[0]));
    if (cmp > 0 || tie) best = entry;
  }
  return { node: best![0] };
}
