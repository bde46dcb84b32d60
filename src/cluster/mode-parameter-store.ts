import type { ModeState } from '../scsi/lu-view.js';
import { type ModeParameterStore, modeStateFrom } from '../scsi/spc/mode-store.js';
import type { Logger } from '../util/logger.js';
import type { JsonValue, ModeParameterStateStore, Subscription } from './coordinator.js';

export interface ClusterModeStoreOptions {
  readonly coordinator: ModeParameterStateStore;
  readonly volume: string;
  readonly logger: Logger;
}

/** The stored value: the parameters and the I_T nexus whose MODE SELECT set them. */
interface StoredValue {
  readonly mode: ModeState;
  readonly issuer: string;
}

/**
 * One volume's mode parameters as the Coordinator keeps them (etcd, or the embedded node's data
 * directory), as the ModeParameterStore src/scsi owns (issue 14, finding 6). Values are applied
 * in revision order, once each: the watch's echo of this node's own save is skipped.
 */
export class ClusterModeStore implements ModeParameterStore {
  readonly #opts: ClusterModeStoreOptions;
  readonly #log: Logger;
  #mode: ModeState | undefined;
  #revision: number;
  readonly #listeners = new Set<(mode: ModeState, issuer: string) => void>();
  #sub: Subscription | undefined;
  #closed = false;

  private constructor(opts: ClusterModeStoreOptions, mode: ModeState | undefined, revision: number) {
    this.#opts = opts;
    this.#log = opts.logger.child({ volume: opts.volume, component: 'mode-parameters' });
    this.#mode = mode;
    this.#revision = revision;
  }

  /** Reads the saved parameters, then follows every change. */
  static async open(opts: ClusterModeStoreOptions): Promise<ClusterModeStore> {
    const v = await opts.coordinator.readModeParameters(opts.volume);
    const store = new ClusterModeStore(opts, modeStateFrom(storedOf(v.value)?.mode), v.revision);
    const sub = await opts.coordinator.watchModeParameters((volume, value, rev) => {
      if (volume === opts.volume) store.#deliver(value, rev);
    });
    if (store.#closed) await sub.close();
    else store.#sub = sub;
    return store;
  }

  get(): ModeState | undefined {
    return this.#mode;
  }

  async save(mode: ModeState, issuer: string): Promise<void> {
    const value: StoredValue = { mode: { ...mode }, issuer };
    const rev = await this.#opts.coordinator.putModeParameters(
      this.#opts.volume,
      value as unknown as JsonValue,
    );
    if (rev > this.#revision) {
      this.#revision = rev;
      this.#mode = { ...mode };
    }
  }

  subscribe(listener: (mode: ModeState, issuer: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    void this.#sub?.close().catch(() => undefined);
  }

  #deliver(value: JsonValue | undefined, revision: number): void {
    if (this.#closed || revision <= this.#revision) return;
    this.#revision = revision;
    const stored = storedOf(value);
    // Deleted (or not ours): the defaults apply again.
    const mode = modeStateFrom(stored?.mode ?? {})!;
    this.#mode = mode;
    for (const l of this.#listeners) {
      try {
        l(mode, stored?.issuer ?? '');
      } catch (err) {
        this.#log.error({ err, revision }, 'applying mode parameters failed');
      }
    }
  }
}

function storedOf(value: JsonValue | undefined): StoredValue | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as unknown as StoredValue)
    : undefined;
}
