import type { SenseReasonName } from './sense-reason.js';
import { AsymmetricAccessState, type AsymmetricAccessStateCode } from './spec/alua.js';
import { Opcode, ServiceAction } from './spec/opcodes.js';

/**
 * Implicit ALUA as the SCSI engine sees it (SPC-4 5.15): the access state of this node's target
 * port group for an LU, and which commands each state executes — as data, read by the gate.
 * Where the state comes from (etcd, the election) is the cluster's business: the composition
 * root hands each LU an `LuAccess`.
 */

/** What the ALUA table reads of an opcode row (the row itself; declared here to keep alua.ts a leaf). */
export interface AluaRowKey {
  readonly opcode: number;
  readonly serviceAction?: number;
}

/** SPC-4 5.15.2.4 asymmetric access states (the names the cluster stores). */
export type AccessState =
  | 'active-optimized'
  | 'active-non-optimized'
  | 'standby'
  | 'unavailable'
  | 'transitioning'
  | 'offline';

export const ACCESS_STATE_CODE: Readonly<Record<AccessState, AsymmetricAccessStateCode>> = {
  'active-optimized': AsymmetricAccessState.ACTIVE_OPTIMIZED,
  'active-non-optimized': AsymmetricAccessState.ACTIVE_NON_OPTIMIZED,
  standby: AsymmetricAccessState.STANDBY,
  unavailable: AsymmetricAccessState.UNAVAILABLE,
  transitioning: AsymmetricAccessState.TRANSITIONING,
  offline: AsymmetricAccessState.OFFLINE,
};

/** The sense a port in this state returns for a command it does not execute. */
export const ACCESS_STATE_SENSE: Readonly<Record<AccessState, SenseReasonName | undefined>> = {
  'active-optimized': undefined,
  'active-non-optimized': undefined,
  standby: 'LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_STANDBY_STATE',
  unavailable: 'LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_UNAVAILABLE_STATE',
  transitioning: 'LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION',
  offline: 'LOGICAL_UNIT_NOT_ACCESSIBLE_TARGET_PORT_IN_UNAVAILABLE_STATE',
};

/**
 * How one command fares by state.
 * - `everywhere`: executed locally in every state (SPC-4 5.15.2.4.5/.6 lists for Unavailable
 *   and Transitioning: INQUIRY, REPORT LUNS, REPORT TARGET PORT GROUPS, REQUEST SENSE, REPORT
 *   SUPPORTED OPERATION CODES / TASK MANAGEMENT FUNCTIONS).
 * - `standby`: also executed (locally) in Standby (SPC-4 5.15.2.4.4 plus READ CAPACITY, which
 *   initiators read on every path, DESIGN.md).
 * - `nonOptimized`: on an Active/Non-optimized port, `local` runs here; `forward` goes to the
 *   primary — everything that reads or writes the medium or state only the primary holds
 *   (mode pages, reservations' commands, copy manager, medium removal).
 * Rows not listed are media commands: Active states only, forwarded from Active/Non-optimized.
 */
export interface AluaRule {
  readonly everywhere: boolean;
  readonly standby: boolean;
  readonly nonOptimized: 'local' | 'forward';
}

const MEDIA: AluaRule = { everywhere: false, standby: false, nonOptimized: 'forward' };
const EVERYWHERE: AluaRule = { everywhere: true, standby: true, nonOptimized: 'local' };
/** Path checkers' command: executed here while the port can do I/O, else the state's sense. */
const READY: AluaRule = { everywhere: false, standby: false, nonOptimized: 'local' };
const STANDBY_LOCAL: AluaRule = { everywhere: false, standby: true, nonOptimized: 'local' };
/** Allowed in Standby (answered there), forwarded from A/NO so every answer is the primary's. */
const STANDBY_FORWARD: AluaRule = { everywhere: false, standby: true, nonOptimized: 'forward' };

type Key = `${number}` | `${number}/${number}`;
const k = (opcode: number, sa?: number): Key => (sa === undefined ? `${opcode}` : `${opcode}/${sa}`);

/** The per-state table (opcode or opcode/service action → rule). */
const RULES: ReadonlyMap<Key, AluaRule> = new Map<Key, AluaRule>([
  [k(Opcode.INQUIRY), EVERYWHERE],
  [k(Opcode.REPORT_LUNS), EVERYWHERE],
  [k(Opcode.REQUEST_SENSE), EVERYWHERE],
  [k(Opcode.MAINTENANCE_IN, ServiceAction.REPORT_TARGET_PORT_GROUPS), EVERYWHERE],
  [k(Opcode.MAINTENANCE_IN, ServiceAction.REPORT_SUPPORTED_OPERATION_CODES), EVERYWHERE],
  [k(Opcode.MAINTENANCE_IN, ServiceAction.REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS), EVERYWHERE],
  [k(Opcode.TEST_UNIT_READY), READY],
  [k(Opcode.READ_CAPACITY_10), STANDBY_LOCAL],
  [k(Opcode.SERVICE_ACTION_IN_16, ServiceAction.READ_CAPACITY_16), STANDBY_LOCAL],
  // PERSISTENT RESERVE IN reads the cluster-wide state every node has applied (rule 7).
  ...[0, 1, 2, 3].map((sa) => [k(Opcode.PERSISTENT_RESERVE_IN, sa), STANDBY_LOCAL] as const),
  // Mode pages are the primary's (MODE SELECT changes them there): read them there too, so
  // that MODE SENSE after MODE SELECT agrees through every path.
  [k(Opcode.MODE_SENSE_6), STANDBY_FORWARD],
  [k(Opcode.MODE_SENSE_10), STANDBY_FORWARD],
  [k(Opcode.MODE_SELECT_6), STANDBY_FORWARD],
  [k(Opcode.MODE_SELECT_10), STANDBY_FORWARD],
  [k(Opcode.LOG_SENSE), STANDBY_FORWARD],
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((sa) => [k(Opcode.PERSISTENT_RESERVE_OUT, sa), STANDBY_FORWARD] as const),
]);

const ruleCache = new WeakMap<AluaRowKey, AluaRule>();

export function aluaRuleFor(row: AluaRowKey): AluaRule {
  let r = ruleCache.get(row);
  if (!r) {
    r = RULES.get(k(row.opcode, row.serviceAction)) ?? MEDIA;
    ruleCache.set(row, r);
  }
  return r;
}

/** What the gate does with a command in a state: run it here, forward it, or refuse it. */
export type AluaDisposition =
  | { readonly action: 'local' }
  | { readonly action: 'forward' }
  | { readonly action: 'refuse'; readonly sense: SenseReasonName };

const LOCAL: AluaDisposition = { action: 'local' };
const FORWARD: AluaDisposition = { action: 'forward' };

export function aluaDisposition(state: AccessState, row: AluaRowKey): AluaDisposition {
  const rule = aluaRuleFor(row);
  if (rule.everywhere || state === 'active-optimized') return LOCAL;
  if (state === 'active-non-optimized') return rule.nonOptimized === 'forward' ? FORWARD : LOCAL;
  if (state === 'standby' && rule.standby) return LOCAL;
  return { action: 'refuse', sense: ACCESS_STATE_SENSE[state]! };
}

/**
 * A media command (a row the table does not list): executed only by the primary, and only
 * while it holds the volume (safety rule 4). Standby-allowed rows (mode pages, reservations,
 * whose state is cluster-wide) are not fenced by it.
 */
export function isMediaCommand(row: AluaRowKey): boolean {
  return aluaRuleFor(row) === MEDIA;
}

/**
 * One LU's ALUA port on this node, provided by the composition root (cluster mode). Absent:
 * embedded mode, every group Active/Optimized, nothing forwarded.
 */
export interface LuAccess {
  /** This node's target port group state for the LU, now (read for every command). */
  state(): AccessState;
  /**
   * Safety rule 4: checked synchronously immediately before a command that touches the medium
   * or the primary's state executes here. False: the command fails with `state()`'s sense (or
   * Transitioning) and never executes.
   */
  mayExecute(): boolean;
  /** The state of every target port group for REPORT TARGET PORT GROUPS (undefined: unknown group). */
  groupState(targetPortGroupId: number): AccessState | undefined;
}
