import path from 'node:path';
import type { BlockDevice } from '../backstore/block-device.js';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { StateMachine } from '../util/state-machine.js';
import type { DirtyBitmap } from './bitmap.js';
import { replicationError } from './errors.js';
import { MetadataFile } from './metadata.js';
import { RegionLock } from './region-lock.js';
import {
  type ReplicatedVolumeOptions,
  type ReplicationMetrics,
  type ReplicationTiming,
  type Role,
  zeroReplicationMetrics,
} from './replication-interface.js';
import { ResyncThrottle } from './resync-throttle.js';

const DEFAULT_TIMING: ReplicationTiming = {
  ackTimeoutMs: 2000,
  connectDeadlineMs: 1500,
  cleanAfterMs: 2000,
  reconnectMs: 1000,
  maxInflightBytes: 32 << 20,
};

/**
 * What the parts of one replicated volume share: its options, local store, metadata, bitmap,
 * region lock, counters, and the role with its generation. ReplicatedVolume alone changes the
 * role (its role machine); membership, resync, verify and replica apply read it.
 */
export class VolumeContext {
  readonly o: ReplicatedVolumeOptions;
  readonly log: Logger;
  readonly timing: ReplicationTiming;
  readonly device: BlockDevice;
  readonly meta: MetadataFile;
  readonly locks = new RegionLock();
  readonly metrics: ReplicationMetrics = zeroReplicationMetrics();
  readonly role: StateMachine<Role>;
  bitmap: DirtyBitmap | undefined;
  /** Resync rate limit and its yield to application I/O (the primary's). */
  readonly throttle = new ResyncThrottle();
  /**
   * The size the LU reports: the committed size of a resize (see resize.ts). The store and the
   * bitmap may be larger while a resize is prepared.
   */
  size = 0;
  /** Told when `size` changes (the node queues CAPACITY DATA HAS CHANGED). */
  readonly capacityListeners = new Set<(size: number) => void>();
  /** This node's epoch as primary (0 when not primary). */
  epoch = 0;
  /** Bumped by every change of role: work started in an older generation must not ack. */
  generation = 0;
  /**
   * This copy holds every write it acknowledged (HelloReply.intact): set when it is known
   * complete — opened with valid data and a clean bitmap (every write it applied was flushed:
   * marks are durable before a write and cleared only after a flush), declared in sync
   * (IN_SYNC), or a new dataset — and never persisted, so a restart (a power cut among them)
   * ends it.
   */
  intact = false;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(opts: ReplicatedVolumeOptions) {
    this.o = opts;
    this.device = opts.device;
    this.log = opts.logger.child({ component: 'replication', volume: opts.volume });
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.meta = new MetadataFile(path.join(opts.stateDir, `${opts.volume}.meta.json`));
    this.role = new StateMachine<Role>('replication role', 'closed', this.log);
  }

  get datasetId(): string {
    return this.meta.current.datasetId;
  }

  get hasValidData(): boolean {
    return this.meta.current.hasValidData;
  }

  bm(): DirtyBitmap {
    if (!this.bitmap) throw new TandemError('TANDEM_ERR_ASSERT', `${this.o.volume}: used before open()`);
    return this.bitmap;
  }

  /** A FENCED error for a write (or verify) this node may not serve; counted. */
  fenced(why: string): Error {
    this.metrics.fencedWrites++;
    return replicationError('TANDEM_ERR_REPLICATION_FENCED', `${this.o.volume}: ${why}`);
  }

  /** A timer of this primary term: clearTimers() cancels it when the term ends. */
  timer(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.#timers.add(t);
  }

  clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
