import type { BlockDevice } from '../backstore/block-device.js';
import type { LuAccess } from './alua.js';
import type { LuReservations } from './pr/lu-reservations.js';
import type { UnitAttentions } from './unit-attention.js';

export interface LogicalUnitConfig {
  /** Stable volume id; the NAA designator and serial number derive from it. */
  readonly volumeId: string;
  readonly blockSize: number;
  readonly readOnly?: boolean;
  /** Product revision level reported in INQUIRY. */
  readonly revision?: string;
  /**
   * Embedded mode: file that keeps persistent reservations across restarts while APTPL is set
   * (SPC-4 5.13.5). Ignored when `reservationStore` is given.
   */
  readonly aptplFile?: string;
  /**
   * Cluster mode: the volume's identity seed, created once in etcd (Coordinator.volumeSeed), so
   * that the NAA designator and serial are the same on every node and survive a rename.
   * Absent: derived from `volumeId`.
   */
  readonly identitySeed?: string;
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
 * The backing device as a handler sees it: everything but the calls that change the medium.
 * Those go through ExecContext.medium, which holds the LBA range lock (DESIGN.md rule 5).
 */
export type DeviceReader = Omit<BlockDevice, 'write' | 'discard' | 'submitWrites' | 'grow' | 'close'>;

/**
 * A logical unit as the command handlers see it (the opcode rows, src/scsi/sbc, src/scsi/spc):
 * LogicalUnit implements it. Declared in a leaf file so that the table and its handlers do not
 * depend on the class that composes the LU.
 */
export interface LuView {
  readonly device: DeviceReader;
  readonly config: LogicalUnitConfig;
  readonly blockSize: number;
  /** Number of logical blocks. */
  readonly blocks: number;
  readonly mode: ModeState;
  /** NAA IEEE Registered Extended designator (16 bytes, SPC-4 7.8.6.6.5). */
  readonly naa: Buffer;
  /** Unit serial number (VPD 80h), ASCII. */
  readonly serial: string;
  readonly writeProtected: boolean;
  /** Thin provisioned (LBPME = 1, SBC-3 4.7.3). */
  readonly thin: boolean;
  readonly unitAttentions: UnitAttentions;
  /** I_T nexuses holding a PREVENT ALLOW MEDIUM REMOVAL prevent (SBC-3 5.13). */
  readonly preventRemoval: Set<string>;
  /** Persistent and SPC-2 reservations (src/scsi/pr). */
  readonly reservations: LuReservations;
  /** Cluster mode: this node's ALUA port for the LU (absent: Active/Optimized, embedded). */
  readonly access: LuAccess | undefined;
  knownNexuses(): Iterable<string>;
  /**
   * MODE SELECT: makes `mode` the LU's parameters (saved first where the LU has a store), and
   * establishes MODE PARAMETERS CHANGED for every other I_T nexus (SPC-4 7.5.1).
   */
  changeMode(mode: ModeState, issuer: string): Promise<void>;
}
