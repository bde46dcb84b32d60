import { TandemError } from '../util/errors.js';
import type { DataClaim, ReplicaSet, ReplicaSetStore, Subscription, VolumeListener } from './coordinator.js';
import type { EmbeddedElection } from './embedded-election.js';
import type { EmbeddedStore } from './embedded-store.js';

/** Replicated volumes on one node: its own store is the whole in-sync set. */
export class EmbeddedReplicaSets implements ReplicaSetStore {
  readonly #store: EmbeddedStore;
  readonly #election: EmbeddedElection;
  readonly #replicaSets = new Map<string, ReplicaSet>();
  readonly #claims = new Map<string, Map<string, DataClaim>>();
  readonly #listeners: Set<VolumeListener<ReplicaSet>>;

  constructor(store: EmbeddedStore, election: EmbeddedElection) {
    this.#store = store;
    this.#election = election;
    this.#listeners = store.listeners();
  }

  async era(): Promise<string> {
    return 'embedded';
  }

  async createReplicaSet(volume: string, dataset: string): Promise<boolean> {
    if (this.#replicaSets.has(volume)) return false;
    this.#set(volume, { dataset, inSync: [this.#store.nodeName] });
    return true;
  }

  async readReplicaSet(volume: string): Promise<ReplicaSet> {
    return this.#replicaSets.get(volume) ?? { dataset: undefined, inSync: [] };
  }

  async watchReplicaSets(listener: VolumeListener<ReplicaSet>): Promise<Subscription> {
    const rev = this.#store.revision;
    for (const [volume, set] of this.#replicaSets) listener(volume, set, rev);
    return this.#store.subscribe(this.#listeners, listener);
  }

  async setInSync(volume: string, epoch: number, node: string, inSync: boolean): Promise<void> {
    if (this.#election.epoch(volume) !== epoch) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_NOT_LEADER',
        `${volume}: not the primary with epoch ${epoch}`,
      );
    }
    const cur = this.#replicaSets.get(volume) ?? { dataset: undefined, inSync: [] };
    const members = new Set(cur.inSync);
    if (inSync) members.add(node);
    else members.delete(node);
    this.#set(volume, { dataset: cur.dataset, inSync: [...members].sort() });
  }

  async leaveInSync(volume: string): Promise<void> {
    const cur = this.#replicaSets.get(volume);
    if (!cur) return;
    const self = this.#store.nodeName;
    this.#set(volume, { dataset: cur.dataset, inSync: cur.inSync.filter((n) => n !== self) });
  }

  async leaveInSyncWhile(volume: string, other: string): Promise<boolean> {
    const cur = this.#replicaSets.get(volume);
    if (!cur?.inSync.includes(other)) return false;
    await this.leaveInSync(volume);
    return true;
  }

  async publishDataClaim(volume: string, claim: DataClaim): Promise<void> {
    const claims = this.#claims.get(volume) ?? new Map<string, DataClaim>();
    claims.set(this.#store.nodeName, { ...claim });
    this.#claims.set(volume, claims);
  }

  async readDataClaims(volume: string): Promise<ReadonlyMap<string, DataClaim>> {
    return new Map(this.#claims.get(volume) ?? []);
  }

  async deleteReplicaSet(volume: string): Promise<void> {
    this.#claims.delete(volume);
    if (!this.#replicaSets.delete(volume)) return;
    const rev = this.#store.bump();
    this.#store.deliver(this.#listeners, (l) => l(volume, undefined, rev));
  }

  #set(volume: string, set: ReplicaSet): void {
    this.#replicaSets.set(volume, set);
    const rev = this.#store.bump();
    this.#store.deliver(this.#listeners, (l) => l(volume, set, rev));
  }
}
