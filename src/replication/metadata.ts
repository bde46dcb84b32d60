import fs from 'node:fs';
import path from 'node:path';
import { replaceFileDurably } from '../util/durable-file.js';
import { TandemError } from '../util/errors.js';

/** What a node knows about its copy of a volume; `<volume>.meta.json` in the state directory. */
export interface VolumeMetadata {
  readonly version: 1;
  /** The dataset this copy belongs to ("" before initDataset or a first complete resync). */
  readonly datasetId: string;
  /** False for a new or replaced store, and during a full resync. */
  readonly hasValidData: boolean;
  /** Highest primary epoch seen (safety rule 3). */
  readonly highestEpoch: number;
  /**
   * The etcd era `highestEpoch` belongs to ('' before eras were recorded). Epochs are etcd
   * revisions: a replaced etcd (restored from a config export) starts them again near 1.
   */
  readonly era: string;
  /**
   * The size this copy's LU reports: changed only by a committed resize (absent: the store's
   * size when the volume was opened; written before the first resize prepares).
   */
  readonly size?: number;
  /**
   * Set from the start of a full resync until IN_SYNC: who is copying which dataset here. The
   * bitmap then names the regions not yet received and flushed (a resumable checkpoint).
   */
  readonly resyncFrom?: { readonly node: string; readonly epoch: number; readonly datasetId: string };
  /** As primary: the epoch of this node's latest term, and the first of its unbroken run of terms. */
  readonly lastOwnEpoch?: number;
  readonly chainEpoch?: number;
}

const EMPTY: VolumeMetadata = { version: 1, datasetId: '', hasValidData: false, highestEpoch: 0, era: '' };

/**
 * The metadata file, replaced atomically (write a temporary file, fsync, rename, fsync the
 * directory) so a crash leaves the old or the new contents, never a mix. Updates are serialized.
 */
export class MetadataFile {
  readonly #file: string;
  #current: VolumeMetadata = EMPTY;
  #chain: Promise<void> = Promise.resolve();
  #existed = false;

  constructor(file: string) {
    this.#file = file;
  }

  get current(): VolumeMetadata {
    return this.#current;
  }

  /** Whether the file existed at load(). */
  get existed(): boolean {
    return this.#existed;
  }

  async load(): Promise<VolumeMetadata> {
    await fs.promises.mkdir(path.dirname(this.#file), { recursive: true });
    let text: string;
    try {
      text = await fs.promises.readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw metaError(this.#file, err);
      this.#current = EMPTY;
      this.#existed = false;
      return this.#current;
    }
    let raw: Partial<VolumeMetadata>;
    try {
      raw = JSON.parse(text) as Partial<VolumeMetadata>;
    } catch (err) {
      throw metaError(this.#file, err);
    }
    if (
      raw.version !== 1 ||
      typeof raw.datasetId !== 'string' ||
      typeof raw.hasValidData !== 'boolean' ||
      typeof raw.highestEpoch !== 'number' ||
      !Number.isSafeInteger(raw.highestEpoch) ||
      (raw.era !== undefined && typeof raw.era !== 'string') ||
      !optionalCount(raw.size) ||
      !optionalCount(raw.lastOwnEpoch) ||
      !optionalCount(raw.chainEpoch) ||
      (raw.resyncFrom !== undefined &&
        (typeof raw.resyncFrom?.node !== 'string' ||
          typeof raw.resyncFrom.datasetId !== 'string' ||
          typeof raw.resyncFrom.epoch !== 'number'))
    ) {
      throw metaError(this.#file, new Error('not in the shape Tandem writes'));
    }
    this.#current = {
      version: 1,
      datasetId: raw.datasetId,
      hasValidData: raw.hasValidData,
      highestEpoch: raw.highestEpoch,
      era: raw.era ?? '',
      ...(raw.size !== undefined ? { size: raw.size } : {}),
      ...(raw.resyncFrom ? { resyncFrom: raw.resyncFrom } : {}),
      ...(raw.lastOwnEpoch !== undefined ? { lastOwnEpoch: raw.lastOwnEpoch } : {}),
      ...(raw.chainEpoch !== undefined ? { chainEpoch: raw.chainEpoch } : {}),
    };
    this.#existed = true;
    return this.#current;
  }

  /** Applies `change` to the latest contents and makes the result durable before resolving. */
  update(change: (m: VolumeMetadata) => Partial<Omit<VolumeMetadata, 'version'>>): Promise<VolumeMetadata> {
    const run = this.#chain.then(async () => {
      const next: VolumeMetadata = { ...this.#current, ...change(this.#current), version: 1 };
      await writeDurably(this.#file, `${JSON.stringify(next, null, 2)}\n`);
      this.#current = next;
      return next;
    });
    this.#chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

function optionalCount(v: unknown): boolean {
  return v === undefined || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
}

async function writeDurably(file: string, text: string): Promise<void> {
  try {
    await replaceFileDurably(file, text);
  } catch (err) {
    throw metaError(file, err);
  }
}

function metaError(file: string, err: unknown): TandemError {
  return new TandemError(
    'TANDEM_ERR_BACKSTORE_IO',
    `replication metadata ${file}: ${(err as Error).message}`,
    {
      cause: err,
    },
  );
}
