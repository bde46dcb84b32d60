import { TandemError } from '../util/errors.js';
import type { AluaSnapshot, AluaState, AluaStore, Subscription, VolumeListener } from './coordinator.js';
import type { EmbeddedElection } from './embedded-election.js';
import { EMBEDDED_EPOCH, type EmbeddedStore } from './embedded-store.js';
import { aluaValueSchema } from './records.js';

/** ALUA snapshots in memory, published only by the leader at epoch 1 (the node itself). */
export class EmbeddedAlua implements AluaStore {
  readonly #store: EmbeddedStore;
  readonly #election: EmbeddedElection;
  readonly #alua = new Map<string, AluaSnapshot>();
  readonly #listeners: Set<VolumeListener<AluaSnapshot>>;

  constructor(store: EmbeddedStore, election: EmbeddedElection) {
    this.#store = store;
    this.#election = election;
    this.#listeners = store.listeners();
  }

  async publishAlua(
    volume: string,
    epoch: number,
    groups: readonly { targetPortGroupId: number; state: AluaState }[],
  ): Promise<AluaSnapshot> {
    const store = this.#store;
    store.assertOpen();
    if (epoch !== EMBEDDED_EPOCH || !this.#election.canServeWrites(volume)) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_NOT_LEADER',
        `${volume}: not the primary with epoch ${epoch}`,
      );
    }
    const value = aluaValueSchema.parse({
      epoch,
      primary: store.nodeName,
      groups: [...groups].sort((a, b) => a.targetPortGroupId - b.targetPortGroupId),
    });
    const snapshot: AluaSnapshot = { volume, ...value, revision: store.bump() };
    this.#alua.set(volume, snapshot);
    store.deliver(this.#listeners, (l) => l(volume, snapshot, snapshot.revision));
    return snapshot;
  }

  async readAlua(volume: string): Promise<AluaSnapshot | undefined> {
    return this.#alua.get(volume);
  }

  async watchAlua(listener: VolumeListener<AluaSnapshot>): Promise<Subscription> {
    for (const [volume, s] of this.#alua) listener(volume, s, s.revision);
    return this.#store.subscribe(this.#listeners, listener);
  }
}
