import { createHash } from 'node:crypto';
import type { BlockDevice } from '../backstore/block-device.js';
import type { LuAccess } from './alua.js';
import type { CommandForwarder } from './forwarding.js';
import type { LogicalUnitConfig, LuView, ModeState } from './lu-view.js';
import { Medium, type MediumGrant } from './medium.js';
import { LuReservations } from './pr/lu-reservations.js';
import type { ReservationStore } from './pr/reservation-store-interface.js';
import { RangeLock } from './range-lock.js';
import { reason } from './sense-reason.js';
import { type ModeParameterStore, sameMode } from './spc/mode-store.js';
import { TaskSet } from './task-set.js';
import { UnitAttentions } from './unit-attention.js';

export type { LogicalUnitConfig, ModeState } from './lu-view.js';

export interface LogicalUnitOptions {
  /** Cluster mode: where the reservation state lives (etcd, DESIGN.md safety rule 7). */
  readonly reservationStore?: ReservationStore;
  /** Cluster mode: this node's ALUA state for the LU (absent: Active/Optimized, embedded). */
  readonly access?: LuAccess;
  /** Cluster mode: how commands reach the primary from an Active/Non-optimized port. */
  readonly forwarder?: CommandForwarder;
  /** Where the mode parameters an initiator sets are kept (absent: this process's memory). */
  readonly modeStore?: ModeParameterStore;
}

/**
 * One logical unit: its backing device, identity, mode parameters and per-nexus state
 * (unit attentions, known nexuses), and its task set.
 */
export class LogicalUnit implements LuView {
  readonly device: BlockDevice;
  readonly config: LogicalUnitConfig;
  readonly blockSize: number;
  readonly unitAttentions = new UnitAttentions();
  readonly taskSet = new TaskSet();
  readonly rangeLock = new RangeLock();
  readonly mode: ModeState = { wce: true, dSense: false, swp: false, tas: false };
  /** NAA IEEE Registered Extended designator (16 bytes, SPC-4 7.8.6.6.5). */
  readonly naa: Buffer;
  /** Unit serial number (VPD 80h), ASCII. */
  readonly serial: string;
  /**
   * I_T nexuses holding a PREVENT ALLOW MEDIUM REMOVAL prevent (SBC-3 5.13): cleared by
   * ALLOW from that nexus, its loss, and a logical unit or target reset (`reset()`).
   */
  readonly preventRemoval = new Set<string>();
  /** Persistent and SPC-2 reservations (src/scsi/pr). */
  readonly reservations: LuReservations;
  readonly access: LuAccess | undefined;
  readonly forwarder: CommandForwarder | undefined;
  readonly modeStore: ModeParameterStore | undefined;
  readonly #seen = new Set<string>();
  readonly #unchanging = new Medium(this, 'none');
  readonly #perWrite = new Medium(this, 'per-write');

  constructor(device: BlockDevice, config: LogicalUnitConfig, options: LogicalUnitOptions = {}) {
    if (![512, 1024, 2048, 4096].includes(config.blockSize)) {
      throw new Error(`unsupported logical block size ${config.blockSize} (512, 1024, 2048 or 4096)`);
    }
    this.device = device;
    this.config = config;
    this.blockSize = config.blockSize;
    this.access = options.access;
    this.forwarder = options.forwarder;
    this.modeStore = options.modeStore;
    if (this.modeStore) {
      // The parameters some node saved, then every change any node saves (issue 14, finding 6).
      Object.assign(this.mode, this.modeStore.get() ?? {});
      this.modeStore.subscribe((mode, issuer) => this.#setMode(mode, issuer));
    }
    const digest = createHash('sha256')
      .update(config.identitySeed ?? config.volumeId)
      .digest();
    this.naa = Buffer.alloc(16);
    // NAA 6, then a 24-bit IEEE company id. Tandem has no OUI of its own, so it uses 0x027A3D,
    // whose first octet has the locally-administered bit (0x02) set and so claims nobody's
    // registered OUI; the 100 bits after it come from the volume id's hash.
    this.naa[0] = 0x60; // NAA 6 | company id bits 23-20 (0x0)
    this.naa[1] = 0x27; // company id bits 19-12
    this.naa[2] = 0xa3; // company id bits 11-4
    this.naa[3] = 0xd0 | (digest[0]! & 0x0f); // company id bits 3-0 | vendor specific
    digest.copy(this.naa, 4, 1, 13);
    this.serial = digest.subarray(0, 8).toString('hex');
    this.reservations = new LuReservations(this.taskSet, this.unitAttentions, {
      ...(options.reservationStore ? { store: options.reservationStore } : {}),
      ...(config.aptplFile ? { aptplFile: config.aptplFile } : {}),
    });
  }

  /** Number of logical blocks. */
  get blocks(): number {
    return Math.floor(this.device.size / this.blockSize);
  }

  get writeProtected(): boolean {
    return Boolean(this.config.readOnly) || this.mode.swp;
  }

  /**
   * Thin provisioned (LBPME = 1, SBC-3 4.7.3): the device can deallocate blocks, which then
   * read back as zeroes (LBPRZ = 1).
   */
  get thin(): boolean {
    return typeof this.device.discard === 'function';
  }

  /** The medium under `grant` (the gate's to give: handlers get it as ExecContext.medium). */
  medium(grant: MediumGrant): Medium {
    if (grant === 'none') return this.#unchanging;
    if (grant === 'per-write') return this.#perWrite;
    return new Medium(this, grant);
  }

  async changeMode(mode: ModeState, issuer: string): Promise<void> {
    await this.modeStore?.save(mode, issuer);
    this.#setMode(mode, issuer);
  }

  /**
   * In force here, once: SPC-4 7.5.1 — every I_T nexus but the one whose MODE SELECT changed
   * them learns it (MODE PARAMETERS CHANGED), whichever node it is logged in to. The store's
   * delivery and this node's own save both come here; the second finds nothing to change.
   */
  #setMode(mode: ModeState, issuer: string): void {
    if (sameMode(mode, this.mode)) return;
    Object.assign(this.mode, mode);
    this.unitAttentions.establishAll(this.knownNexuses(), reason('MODE_PARAMETERS_CHANGED'), issuer);
  }

  /**
   * The state a logical unit reset clears (SAM-5 6.3.3) beyond the task set and unit
   * attentions, which the caller handles: medium removal prevention.
   */
  reset(): void {
    this.preventRemoval.clear();
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
    // SBC-3 5.13: a prevent ends with the I_T nexus that set it.
    this.preventRemoval.delete(nexusId);
  }
}
