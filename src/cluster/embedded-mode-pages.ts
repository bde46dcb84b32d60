import fs from 'node:fs';
import path from 'node:path';
import { replaceFileDurably } from '../util/durable-file.js';
import { TandemError } from '../util/errors.js';
import type {
  JsonValue,
  ModeParameterStateStore,
  Subscription,
  Versioned,
  VolumeListener,
} from './coordinator.js';
import { clone, type EmbeddedStore, type Stored } from './embedded-store.js';

/**
 * Mode parameters by volume (finding 6): a file in the data directory next to the configuration
 * (`mode-pages.json`), so a restart keeps them. Absent a configuration file: in memory only.
 */
export class EmbeddedModePages implements ModeParameterStateStore {
  readonly #store: EmbeddedStore;
  readonly #file: string | undefined;
  readonly #modePages = new Map<string, Stored>();
  readonly #listeners: Set<VolumeListener<JsonValue>>;
  /** Saves of the mode parameters file, one at a time. */
  #saved: Promise<void> = Promise.resolve();

  constructor(store: EmbeddedStore, configFile: string | undefined) {
    this.#store = store;
    this.#file = configFile ? path.join(path.dirname(configFile), 'mode-pages.json') : undefined;
    this.#listeners = store.listeners();
  }

  /** The last save queued (it rejects if that save failed). */
  get saved(): Promise<void> {
    return this.#saved;
  }

  async load(): Promise<void> {
    const file = this.#file;
    if (!file) return;
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let saved: Record<string, JsonValue>;
    try {
      saved = JSON.parse(text) as Record<string, JsonValue>;
    } catch (err) {
      throw new TandemError(
        'TANDEM_ERR_CONFIG_INVALID',
        `${file}: not valid JSON: ${(err as Error).message}`,
      );
    }
    for (const [volume, value] of Object.entries(saved)) {
      this.#modePages.set(volume, { value, revision: this.#store.bump() });
    }
  }

  async readModeParameters(volume: string): Promise<Versioned<JsonValue>> {
    const s = this.#modePages.get(volume);
    return s ? { value: clone(s.value), revision: s.revision } : { value: undefined, revision: 0 };
  }

  async putModeParameters(volume: string, value: JsonValue): Promise<number> {
    this.#store.assertOpen();
    const stored = { value: clone(value), revision: this.#store.bump() };
    this.#modePages.set(volume, stored);
    await this.#save();
    this.#store.deliver(this.#listeners, (l) => l(volume, clone(stored.value), stored.revision));
    return stored.revision;
  }

  async watchModeParameters(listener: VolumeListener<JsonValue>): Promise<Subscription> {
    for (const [volume, s] of this.#modePages) listener(volume, clone(s.value), s.revision);
    return this.#store.subscribe(this.#listeners, listener);
  }

  /**
   * A deleted volume's mode parameters go with it (as on etcd): a new volume of the same name
   * starts from the defaults. The file is rewritten in the background (see `saved`).
   */
  forgetVolume(volume: string): void {
    if (this.#modePages.delete(volume)) void this.#save().catch(() => undefined);
  }

  /** Writes every volume's mode parameters to the data directory, one write at a time. */
  #save(): Promise<void> {
    const file = this.#file;
    if (!file) return Promise.resolve();
    const save = async () => {
      const all = Object.fromEntries([...this.#modePages].map(([v, s]) => [v, s.value]));
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      await replaceFileDurably(file, `${JSON.stringify(all, null, 2)}\n`);
    };
    this.#saved = this.#saved.catch(() => undefined).then(save);
    return this.#saved;
  }
}
