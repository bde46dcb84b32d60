import fs from 'node:fs';
import path from 'node:path';
import { replaceFileDurably } from '../../util/durable-file.js';
import type {
  ReservationChange,
  ReservationSnapshot,
  ReservationStore,
} from './reservation-store-interface.js';
import { EMPTY_STATE, parseReservationState, type ReservationState } from './state.js';

export interface MemoryReservationStoreOptions {
  /**
   * File that keeps the state across restarts while APTPL is set (SPC-4 5.13.5: activate persist
   * through power loss). Absent: reservations never survive a restart, REPORT CAPABILITIES
   * clears PTPL_C and APTPL = 1 is refused (INVALID FIELD IN PARAMETER LIST).
   */
  readonly aptplFile?: string;
}

/** What survives a restart: registrations and the persistent reservation, never SPC-2 state. */
function persistentPart(s: ReservationState): ReservationState {
  return { ...s, spc2: null };
}

/**
 * The embedded-mode store: the state in memory, written to `aptplFile` (atomically: temporary
 * file, fsync, rename, fsync of the directory) before a change with APTPL set is applied, and the
 * file removed when APTPL is cleared.
 */
export class MemoryReservationStore implements ReservationStore {
  readonly persistsThroughPowerLoss: boolean;
  #snapshot: ReservationSnapshot;
  readonly #file: string | undefined;
  readonly #listeners = new Set<(change: ReservationChange) => void | Promise<void>>();
  #tail: Promise<void> = Promise.resolve();

  constructor(opts: MemoryReservationStoreOptions = {}) {
    this.#file = opts.aptplFile;
    this.persistsThroughPowerLoss = opts.aptplFile !== undefined;
    this.#snapshot = { state: this.#load(), revision: 1 };
  }

  get(): ReservationSnapshot {
    return this.#snapshot;
  }

  compareAndSet(revision: number, change: ReservationChange): Promise<boolean> {
    // One change at a time, so that a change being persisted cannot be overtaken.
    const run = this.#tail.then(() => this.#compareAndSet(revision, change));
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #compareAndSet(revision: number, change: ReservationChange): Promise<boolean> {
    if (revision !== this.#snapshot.revision) return false;
    // Durable first: if the file cannot be written the state stays as it was.
    await this.#persist(this.#snapshot.state, change.state);
    this.#snapshot = { state: change.state, revision: revision + 1 };
    for (const l of this.#listeners) await l(change);
    return true;
  }

  subscribe(listener: (change: ReservationChange) => void | Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #load(): ReservationState {
    if (!this.#file) return EMPTY_STATE;
    let text: string;
    try {
      text = fs.readFileSync(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_STATE;
      throw err;
    }
    try {
      return persistentPart(parseReservationState(JSON.parse(text)));
    } catch (err) {
      throw new Error(`${this.#file}: persistent reservation state is unreadable: ${(err as Error).message}`);
    }
  }

  async #persist(before: ReservationState, after: ReservationState): Promise<void> {
    const file = this.#file;
    if (!file) return;
    if (!after.aptpl) {
      if (before.aptpl) await fs.promises.rm(file, { force: true });
      return;
    }
    // Changes that touch only SPC-2 state leave the file as it is.
    const json = JSON.stringify(persistentPart(after));
    if (before.aptpl && JSON.stringify(persistentPart(before)) === json) return;
    const dir = path.dirname(file);
    await fs.promises.mkdir(dir, { recursive: true });
    await replaceFileDurably(file, json + '\n');
  }
}
