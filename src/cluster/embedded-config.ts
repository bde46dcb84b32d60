import fs from 'node:fs';
import path from 'node:path';
import { replaceFileDurably } from '../util/durable-file.js';
import { TandemError } from '../util/errors.js';
import type {
  ConfigEntry,
  ConfigEvent,
  ConfigKind,
  ConfigStore,
  JsonValue,
  Subscription,
} from './coordinator.js';
import type { EmbeddedModePages } from './embedded-mode-pages.js';
import { clone, cloneEntry, type EmbeddedStore } from './embedded-store.js';
import { KeyLayout } from './keys.js';

/** The first start's configuration entries. */
export type BootstrapEntries = readonly { kind: ConfigKind; name: string; value: JsonValue }[];

/** The persisted form of the configuration. */
interface ConfigFile {
  readonly revision: number;
  readonly entries: readonly ConfigEntry[];
}

/**
 * The desired configuration of one node: in memory, saved durably to `configFile` (JSON) on every
 * change when there is one, so a node restarted on the same file serves what it served before.
 */
export class EmbeddedConfig implements ConfigStore {
  readonly #store: EmbeddedStore;
  readonly #file: string | undefined;
  readonly #bootstrap: BootstrapEntries | undefined;
  /** A volume's mode parameters go when the volume does. */
  readonly #modePages: Pick<EmbeddedModePages, 'forgetVolume' | 'saved'>;
  readonly #config = new Map<string, ConfigEntry>();
  readonly #listeners: Set<(e: ConfigEvent) => void>;
  #saved = false;

  constructor(
    store: EmbeddedStore,
    file: string | undefined,
    bootstrap: BootstrapEntries | undefined,
    modePages: Pick<EmbeddedModePages, 'forgetVolume' | 'saved'>,
  ) {
    this.#store = store;
    this.#file = file;
    this.#bootstrap = bootstrap;
    this.#modePages = modePages;
    this.#listeners = store.listeners();
  }

  /**
   * The persisted configuration wins over the node file: the file bootstraps only the first
   * start (as targetcli's saveconfig.json does, the live state is what is saved).
   */
  async load(): Promise<void> {
    const file = this.#file;
    let text: string | undefined;
    try {
      if (file) text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      let saved: ConfigFile;
      try {
        saved = JSON.parse(text) as ConfigFile;
      } catch (err) {
        throw new TandemError(
          'TANDEM_ERR_CONFIG_INVALID',
          `${file}: not valid JSON: ${(err as Error).message}`,
        );
      }
      this.#store.restoreRevision(saved.revision);
      for (const e of saved.entries) this.#config.set(key(e.kind, e.name), cloneEntry(e));
      this.#saved = true;
      this.#store.logger.info(
        { file, entries: saved.entries.length },
        'configuration restored from the data directory',
      );
      return;
    }
    // Not saved yet: a first start that fails (a LUN it cannot open) must not make its
    // configuration the saved one, or fixing the node file would not be read. persist() saves it.
    for (const e of this.#bootstrap ?? []) this.#put(e.kind, e.name, e.value);
  }

  /** Saves the configuration if it never was (the node started on its bootstrap). */
  async persist(): Promise<void> {
    if (!this.#saved) await this.#save();
  }

  async readConfig(): Promise<{ revision: number; entries: ConfigEntry[] }> {
    return { revision: this.#store.revision, entries: [...this.#config.values()].map(cloneEntry) };
  }

  async putConfig(
    kind: ConfigKind,
    name: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number> {
    this.#store.assertOpen();
    this.#check(kind, name, expectedRevision);
    const entry = this.#put(kind, name, value);
    await this.#save();
    this.#store.deliver(this.#listeners, (l) =>
      l({ type: 'put', revision: entry.revision, entry: cloneEntry(entry) }),
    );
    return entry.revision;
  }

  async deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean> {
    this.#store.assertOpen();
    const current = this.#check(kind, name, expectedRevision);
    if (!current) return false;
    const revision = this.#delete(kind, name);
    await this.#save();
    await this.#modePages.saved;
    this.#store.deliver(this.#listeners, (l) => l({ type: 'delete', revision, kind, name }));
    return true;
  }

  async replaceConfig(entries: BootstrapEntries, expectedRevision?: number): Promise<number> {
    this.#store.assertOpen();
    const latest = Math.max(0, ...[...this.#config.values()].map((e) => e.revision));
    if (expectedRevision !== undefined && latest > expectedRevision) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `the configuration changed after revision ${expectedRevision}`,
      );
    }
    // One saved file for the whole import, like etcd's one transaction; watchers get each change.
    const wanted = new Set(entries.map((e) => `${e.kind}/${e.name}`));
    const events: ConfigEvent[] = [];
    for (const e of [...this.#config.values()]) {
      if (wanted.has(`${e.kind}/${e.name}`)) continue;
      events.push({ type: 'delete', revision: this.#delete(e.kind, e.name), kind: e.kind, name: e.name });
    }
    for (const e of entries) {
      const entry = this.#put(e.kind, e.name, e.value);
      events.push({ type: 'put', revision: entry.revision, entry: cloneEntry(entry) });
    }
    await this.#save();
    for (const ev of events) this.#store.deliver(this.#listeners, (l) => l(ev));
    return this.#store.revision;
  }

  async watchConfig(listener: (event: ConfigEvent) => void): Promise<Subscription> {
    const snap = await this.readConfig();
    listener({ type: 'snapshot', ...snap });
    return this.#store.subscribe(this.#listeners, listener);
  }

  /** The current entry; throws CONFLICT if `expectedRevision` is given and is not its revision. */
  #check(kind: ConfigKind, name: string, expectedRevision: number | undefined): ConfigEntry | undefined {
    const current = this.#config.get(key(kind, name));
    if (expectedRevision !== undefined && (current?.revision ?? 0) !== expectedRevision) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `${kind}/${name} changed since revision ${expectedRevision}`,
      );
    }
    return current;
  }

  #put(kind: ConfigKind, name: string, value: JsonValue): ConfigEntry {
    const revision = this.#store.bump();
    const entry: ConfigEntry = { kind, name, value: clone(value), revision };
    this.#config.set(key(kind, name), entry);
    return entry;
  }

  #delete(kind: ConfigKind, name: string): number {
    this.#config.delete(key(kind, name));
    // The mode parameters file is rewritten with the configuration's own save.
    if (kind === 'volumes') this.#modePages.forgetVolume(name);
    return this.#store.bump();
  }

  async #save(): Promise<void> {
    if (!this.#file) return;
    const data: ConfigFile = { revision: this.#store.revision, entries: [...this.#config.values()] };
    await fs.promises.mkdir(path.dirname(this.#file), { recursive: true });
    await replaceFileDurably(this.#file, `${JSON.stringify(data, null, 2)}\n`);
    this.#saved = true;
  }
}

function key(kind: ConfigKind, name: string): string {
  return new KeyLayout('/embedded/').configKey(kind, name);
}
