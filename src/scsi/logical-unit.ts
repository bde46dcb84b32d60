import { createHash } from 'node:crypto';
import type { BlockDevice } from '../backstore/block-device.js';
import { RangeLock } from './range-lock.js';
import { reason } from './sense-reason.js';
import { TaskSet } from './task-set.js';
import { UnitAttentions } from './unit-attention.js';

export interface LogicalUnitConfig {
  /** Stable volume id; the NAA designator and serial number derive from it. */
  readonly volumeId: string;
  readonly blockSize: number;
  readonly readOnly?: boolean;
  /** Product revision level reported in INQUIRY. */
  readonly revision?: string;
}

/** Mutable mode parameters (SPC-4 7.5; SBC-3 6.4). */
export interface ModeState {
  /** Caching page: write cache enabled (writes without FUA land in the page cache). */
  wce: boolean;
  /** Control page: report sense in descriptor format. */
  dSense: boolean;
  /** Control page: software write protect. */
  swp: boolean;
  /** Control page: task aborted status. */
  tas: boolean;
}

/**
 * One logical unit: its backing device, identity, mode parameters and per-nexus state
 * (unit attentions, known nexuses), and its task set.
 */
export class LogicalUnit {
  readonly device: BlockDevice;
  readonly config: LogicalUnitConfig;
  readonly blockSize: number;
  readonly blockShift: number;
  readonly unitAttentions = new UnitAttentions();
  readonly taskSet = new TaskSet();
  readonly rangeLock = new RangeLock();
  readonly mode: ModeState = { wce: true, dSense: false, swp: false, tas: false };
  /** NAA IEEE Registered Extended designator (16 bytes, SPC-4 7.8.6.6.5). */
  readonly naa: Buffer;
  /** Unit serial number (VPD 80h), ASCII. */
  readonly serial: string;
  readonly #seen = new Set<string>();

  constructor(device: BlockDevice, config: LogicalUnitConfig) {
    if (![512, 1024, 2048, 4096].includes(config.blockSize)) {
      throw new Error(`unsupported logical block size ${config.blockSize} (512, 1024, 2048 or 4096)`);
    }
    this.device = device;
    this.config = config;
    this.blockSize = config.blockSize;
    this.blockShift = Math.log2(config.blockSize);
    const digest = createHash('sha256').update(config.volumeId).digest();
    this.naa = Buffer.alloc(16);
    // NAA 6, then a 24-bit IEEE company id. Tandem has none of its own: use the locally
    // administered range (0x000000 would claim a real OUI) and fill the rest from the hash.
    this.naa[0] = 0x60;
    this.naa[1] = 0x01;
    this.naa[2] = 0x40;
    this.naa[3] = 0x50 | (digest[0]! & 0x0f);
    digest.copy(this.naa, 4, 1, 13);
    this.serial = digest.subarray(0, 8).toString('hex');
  }

  /** Number of logical blocks. */
  get blocks(): number {
    return Math.floor(this.device.size / this.blockSize);
  }

  get writeProtected(): boolean {
    return Boolean(this.config.readOnly) || this.mode.swp;
  }

  /**
   * Called for every command: the first one from a nexus establishes POWER ON, RESET, OR BUS
   * DEVICE RESET OCCURRED (29h/00h; SAM-5 6.3.1: as far as this nexus knows, the LU was just
   * powered on). The generic 29h/00h rather than 29h/01h: it is the one initiators (Linux,
   * libiscsi's tools) retry silently.
   */
  noteNexus(nexusId: string): void {
    if (this.#seen.has(nexusId)) return;
    this.#seen.add(nexusId);
    this.unitAttentions.establish(nexusId, reason('POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED'));
  }

  knownNexuses(): Iterable<string> {
    return this.#seen;
  }

  forgetNexus(nexusId: string): void {
    this.#seen.delete(nexusId);
    this.unitAttentions.clear(nexusId);
  }
}
