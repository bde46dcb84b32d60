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
  /**
   * As primary: the peers whose missed writes this node's bitmap names — those in the in-sync
   * set when its run of terms began, and those that joined it since (and still are replicas).
   * Any other peer missed writes of an earlier primary, or of a time it was not a replica, that
   * the bitmap may not name: it gets a full resync (then it is tracked).
   */
  readonly tracked?: readonly string[];
  /**
   * Bytes of the store when this copy last held valid data (0: not recorded). A store found
   * shorter at open was truncated or replaced: its data is not this copy's (issue 14, finding 3).
   */
  readonly dataSize: number;
  /** How new this copy's data is (see DataGeneration); compared when etcd lost the record. */
  readonly dataGen: DataGeneration;
  /**
   * Every other node this copy has known as a replica of the volume: after etcd lost the
   * replica set (and its members), the nodes whose claims a restart waits for (finding 4).
   */
  readonly replicaNodes: readonly string[];
}

/**
 * The newest point in the lineage at which this copy is known to hold every acknowledged write
 * (issue 14, finding 4): `epoch` of the last term it was primary of, `seq` the in-sync removals
 * it made in that term (each one makes its data newer than the removed copy's). Epochs are
 * ordered within one etcd era only. Replicas that were never primary have epoch 0.
 */
export interface DataGeneration {
  readonly era: string;
  readonly epoch: number;
  readonly seq: number;
}

export const NO_GENERATION: DataGeneration = { era: '', epoch: 0, seq: 0 };

/** >0: `a` is newer; <0: `b` is; 0: equal; undefined: not comparable (two eras). */
export function compareGenerations(a: DataGeneration, b: DataGeneration): number | undefined {
  const aNone = a.epoch === 0 && a.seq === 0;
  const bNone = b.epoch === 0 && b.seq === 0;
  if (!aNone && !bNone && a.era !== b.era) return undefined;
  return a.epoch - b.epoch || a.seq - b.seq;
}

const EMPTY: VolumeMetadata = {
  version: 1,
  datasetId: '',
  hasValidData: false,
  highestEpoch: 0,
  era: '',
  dataSize: 0,
  dataGen: NO_GENERATION,
  replicaNodes: [],
};

function isGeneration(g: unknown): g is DataGeneration {
  const x = g as Partial<DataGeneration> | undefined;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.era === 'string' &&
    Number.isSafeInteger(x.epoch) &&
    Number.isSafeInteger(x.seq)
  );
}

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
      (raw.tracked !== undefined &&
        (!Array.isArray(raw.tracked) || raw.tracked.some((n: unknown) => typeof n !== 'string'))) ||
      (raw.resyncFrom !== undefined &&
        (typeof raw.resyncFrom?.node !== 'string' ||
          typeof raw.resyncFrom.datasetId !== 'string' ||
          typeof raw.resyncFrom.epoch !== 'number')) ||
      (raw.dataSize !== undefined && !Number.isSafeInteger(raw.dataSize)) ||
      (raw.dataGen !== undefined && !isGeneration(raw.dataGen)) ||
      (raw.replicaNodes !== undefined &&
        (!Array.isArray(raw.replicaNodes) || raw.replicaNodes.some((n) => typeof n !== 'string')))
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
      ...(raw.tracked !== undefined ? { tracked: raw.tracked } : {}),
      dataSize: raw.dataSize ?? 0,
      dataGen: raw.dataGen ?? NO_GENERATION,
      replicaNodes: raw.replicaNodes ?? [],
    };
    this.#existed = true;
    return this.#current;
  }

  /** Resolves when every update started so far has ended (written or failed). */
  settled(): Promise<void> {
    return this.#chain;
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

/** What the node found of a replica's store when it opened it (FileDevice.foundSize). */
export interface FoundStore {
  /** undefined: the store did not exist and was created empty. */
  readonly foundSize: number | undefined;
}

/**
 * Issue 14, finding 3: the metadata says this copy holds valid data, but its store was created
 * (missing: a replaced disk, a deleted file) or is shorter than recorded (truncated, or a
 * smaller file put in its place). Its blocks are not this copy's data: it opens as not valid, so
 * it leaves the in-sync set, never wins an election and is fully resynced. Returns the reason
 * when the copy was invalidated.
 */
export async function invalidateLostStore(
  stateDir: string,
  volume: string,
  found: FoundStore,
): Promise<string | undefined> {
  const meta = new MetadataFile(path.join(stateDir, `${volume}.meta.json`));
  const m = await meta.load();
  if (!m.hasValidData) return undefined;
  let why: string | undefined;
  if (found.foundSize === undefined) why = 'the backing store was missing and was created empty';
  else if (found.foundSize < m.dataSize)
    why = `the backing store is shorter (${found.foundSize} bytes) than recorded (${m.dataSize} bytes)`;
  if (!why) return undefined;
  await meta.update(() => ({ hasValidData: false, datasetId: '', dataSize: 0, dataGen: NO_GENERATION }));
  return why;
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
