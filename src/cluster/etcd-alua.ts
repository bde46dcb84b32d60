import { TandemError } from '../util/errors.js';
import type { AluaSnapshot, AluaState, AluaStore, Subscription, VolumeListener } from './coordinator.js';
import type { EtcdElection } from './etcd-election.js';
import { op } from './etcd-kv.js';
import type { EtcdPartContext } from './etcd-part.js';
import type { KeyValue } from './etcd-watch.js';
import { aluaValueSchema, decode } from './records.js';

/** Every port group's ALUA state per volume, written by the primary under its leadership. */
export class EtcdAlua implements AluaStore {
  readonly #ctx: EtcdPartContext;
  readonly #election: EtcdElection;

  constructor(ctx: EtcdPartContext, election: EtcdElection) {
    this.#ctx = ctx;
    this.#election = election;
  }

  async publishAlua(
    volume: string,
    epoch: number,
    groups: readonly { targetPortGroupId: number; state: AluaState }[],
  ): Promise<AluaSnapshot> {
    const { kv, keys, nodeName } = this.#ctx;
    kv.assertOpen();
    if (this.#election.servingEpoch(volume) !== epoch) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_NOT_LEADER',
        `${volume}: not the primary with epoch ${epoch}`,
      );
    }
    const value = aluaValueSchema.parse({
      epoch,
      primary: nodeName,
      groups: [...groups].sort((a, b) => a.targetPortGroupId - b.targetPortGroupId),
    });
    const res = await kv.guarded('publish ALUA', keys.leader(volume), epoch, [
      op.put(keys.alua(volume), value),
    ]);
    if (!res.succeeded) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_NOT_LEADER',
        `${volume}: election key with epoch ${epoch} is gone`,
      );
    }
    return { volume, ...value, revision: res.revision };
  }

  async readAlua(volume: string): Promise<AluaSnapshot | undefined> {
    const kv = await this.#ctx.kv.get(this.#ctx.keys.alua(volume));
    return kv ? aluaSnapshot(volume, kv) : undefined;
  }

  async watchAlua(listener: VolumeListener<AluaSnapshot>): Promise<Subscription> {
    const { kv, keys } = this.#ctx;
    const base = keys.aluas();
    return kv.watchVolumes(base, (key) => keys.rest(base, key)[0]!, aluaSnapshot, listener);
  }
}

function aluaSnapshot(volume: string, kv: KeyValue): AluaSnapshot {
  const v = decode(aluaValueSchema, kv.key, kv.value);
  return { volume, ...v, revision: kv.modRevision };
}
