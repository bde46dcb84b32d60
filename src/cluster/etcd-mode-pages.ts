import type {
  JsonValue,
  ModeParameterStateStore,
  Subscription,
  Versioned,
  VolumeListener,
} from './coordinator.js';
import { op } from './etcd-kv.js';
import type { EtcdPartContext } from './etcd-part.js';
import { decodeJson } from './records.js';

/**
 * Mode parameters on etcd (issue 14, finding 6): `mode-pages/<volume>`, opaque JSON, plain puts.
 * Any node may write it — a Standby port answers MODE SELECT itself (SPC-4 5.15.2.4.5) — and
 * the last write wins; every node applies the values in revision order from the watch.
 */
export class EtcdModePages implements ModeParameterStateStore {
  readonly #ctx: EtcdPartContext;

  constructor(ctx: EtcdPartContext) {
    this.#ctx = ctx;
  }

  #base(): string {
    return this.#ctx.keys.modePages();
  }

  #key(volume: string): string {
    return this.#ctx.keys.modePagesOf(volume);
  }

  async readModeParameters(volume: string): Promise<Versioned<JsonValue>> {
    const key = this.#key(volume);
    const kv = await this.#ctx.kv.get(key);
    return kv
      ? { value: decodeJson(key, kv.value), revision: kv.modRevision }
      : { value: undefined, revision: 0 };
  }

  async putModeParameters(volume: string, value: JsonValue): Promise<number> {
    const { kv } = this.#ctx;
    kv.assertOpen();
    // A put is idempotent: retrying one whose answer was lost writes the same value again.
    const res = await kv.txn('put mode parameters', { success: [op.put(this.#key(volume), value)] });
    return res.revision;
  }

  watchModeParameters(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    const { kv, keys } = this.#ctx;
    const base = this.#base();
    return kv.watchVolumes(
      base,
      (key) => keys.rest(base, key)[0]!,
      (_volume, e) => decodeJson(e.key, e.value),
      listener,
    );
  }
}
