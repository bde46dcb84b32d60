import { Opcode } from '../spec/opcodes.js';
import { ProutServiceAction } from './prout.js';
import {
  isAllRegistrants,
  type NexusIdentity,
  PrType,
  type ReservationState,
  registrationOf,
  sameNexus,
} from './state.js';

export type Access = 'allowed' | 'conflict';

/** Outcome for an I_T nexus that is registered or not. */
export interface ByRegistration {
  readonly registered: Access;
  readonly notRegistered: Access;
}

/**
 * How one command fares against reservations held by another I_T nexus: SPC-4 5.13.1 Table 43
 * (SPC commands), SBC-3 4.17 Table 13 (block commands), SPC-4 Table 44 (PERSISTENT RESERVE OUT
 * service actions) and the SPC-2 RESERVE/RELEASE rules with the SPC-4 5.13.3 exceptions.
 */
export interface ConflictRule {
  /** Table 43 column "Write Exclusive". */
  readonly writeExclusive: ByRegistration;
  /** Table 43 column "Exclusive Access". */
  readonly exclusiveAccess: ByRegistration;
  /** Table 43 columns "Write Exclusive – Registrants Only / – All Registrants". */
  readonly writeExclusiveRegistrants: ByRegistration;
  /** Table 43 columns "Exclusive Access – Registrants Only / – All Registrants". */
  readonly exclusiveAccessRegistrants: ByRegistration;
  /**
   * An SPC-2 reservation held by another I_T nexus: 'conflict-any' conflicts even for the holder
   * (SPC-4 5.13.3: PERSISTENT RESERVE IN/OUT while any RESERVE(6/10) is in force).
   */
  readonly spc2: Access | 'conflict-any';
  /** SPC-4 5.13.3: RESERVE and RELEASE conflict while any I_T nexus is registered. */
  readonly whileRegistered?: Access;
}

type Letter = 'A' | 'C';
const access = (l: Letter): Access => (l === 'A' ? 'allowed' : 'conflict');
const both = (l: Letter): ByRegistration => ({ registered: access(l), notRegistered: access(l) });

/**
 * A Table 43 row as the standard prints it: "Write Exclusive", "Exclusive Access", then the
 * registrants-only/all-registrants columns for a registered I_T nexus (WE, EA) and for a
 * not registered one (WE, EA). A = allowed, C = conflict.
 */
function table43(
  row: `${Letter}${Letter} ${Letter}${Letter} ${Letter}${Letter}`,
  spc2: Access = 'conflict',
): ConflictRule {
  const l = row.replaceAll(' ', '') as unknown as Letter[];
  return {
    writeExclusive: both(l[0]!),
    exclusiveAccess: both(l[1]!),
    writeExclusiveRegistrants: { registered: access(l[2]!), notRegistered: access(l[4]!) },
    exclusiveAccessRegistrants: { registered: access(l[3]!), notRegistered: access(l[5]!) },
    spc2,
  };
}

/** A Table 44 row: PERSISTENT RESERVE OUT from a registered / not registered I_T nexus. */
function table44(registered: Letter, notRegistered: Letter): ConflictRule {
  const r: ByRegistration = { registered: access(registered), notRegistered: access(notRegistered) };
  return {
    writeExclusive: r,
    exclusiveAccess: r,
    writeExclusiveRegistrants: r,
    exclusiveAccessRegistrants: r,
    spc2: 'conflict-any',
  };
}

/** Allowed whatever the reservation (INQUIRY, REPORT LUNS, …). */
export const ALLOWED = table43('AA AA AA');
/** Reads: pass Write Exclusive, conflict with Exclusive Access unless registered. */
export const READ = table43('AC AA AC');
/** Writes and other changes: conflict unless the I_T nexus is registered under a RO/AR type. */
export const WRITE = table43('CC AA CC');
/** Allowed under persistent reservations and under SPC-2 reservations of other I_T nexuses. */
const ALWAYS = table43('AA AA AA', 'allowed');

export interface ConflictEntry {
  readonly name: string;
  readonly rule: ConflictRule | ((cdb: Buffer) => ConflictRule);
}

const sa = (op: number, action: number) => `${op}/${action}`;

/**
 * The reservation-conflict table, keyed by opcode or "opcode/service action". Commands absent
 * from it default by their opcode row (writesMedium or data-out: WRITE; otherwise READ).
 */
export const CONFLICT_TABLE: ReadonlyMap<string, ConflictEntry> = new Map<string, ConflictEntry>([
  // SPC-4 Table 43.
  [`${0x86}`, { name: 'ACCESS CONTROL IN', rule: ALLOWED }],
  [`${0x87}`, { name: 'ACCESS CONTROL OUT', rule: ALLOWED }],
  [sa(Opcode.MAINTENANCE_OUT, 0x0b), { name: 'CHANGE ALIASES', rule: WRITE }],
  [`${Opcode.EXTENDED_COPY}`, { name: 'EXTENDED COPY', rule: WRITE }],
  [`${Opcode.INQUIRY}`, { name: 'INQUIRY', rule: ALWAYS }],
  [`${Opcode.LOG_SELECT}`, { name: 'LOG SELECT', rule: WRITE }],
  [`${Opcode.LOG_SENSE}`, { name: 'LOG SENSE', rule: ALLOWED }],
  [sa(Opcode.MAINTENANCE_IN, 0x10), { name: 'MANAGEMENT PROTOCOL IN', rule: READ }],
  [sa(Opcode.MAINTENANCE_OUT, 0x10), { name: 'MANAGEMENT PROTOCOL OUT', rule: WRITE }],
  [`${Opcode.MODE_SELECT_6}`, { name: 'MODE SELECT(6)', rule: WRITE }],
  [`${Opcode.MODE_SELECT_10}`, { name: 'MODE SELECT(10)', rule: WRITE }],
  [`${Opcode.MODE_SENSE_6}`, { name: 'MODE SENSE(6)', rule: READ }],
  [`${Opcode.MODE_SENSE_10}`, { name: 'MODE SENSE(10)', rule: READ }],
  [
    `${Opcode.PERSISTENT_RESERVE_IN}`,
    { name: 'PERSISTENT RESERVE IN', rule: { ...ALLOWED, spc2: 'conflict-any' } },
  ],
  [`${0x8c}`, { name: 'READ ATTRIBUTE', rule: READ }],
  [`${Opcode.READ_BUFFER}`, { name: 'READ BUFFER', rule: READ }],
  [sa(0xab, 0x01), { name: 'READ MEDIA SERIAL NUMBER', rule: ALLOWED }],
  [`${Opcode.RECEIVE_COPY_RESULTS}`, { name: 'RECEIVE COPY RESULTS', rule: READ }],
  [`${0x1c}`, { name: 'RECEIVE DIAGNOSTIC RESULTS', rule: READ }],
  [sa(Opcode.MAINTENANCE_IN, 0x0b), { name: 'REPORT ALIASES', rule: ALLOWED }],
  [sa(Opcode.MAINTENANCE_IN, 0x05), { name: 'REPORT IDENTIFYING INFORMATION', rule: ALLOWED }],
  [`${Opcode.REPORT_LUNS}`, { name: 'REPORT LUNS', rule: ALWAYS }],
  [sa(Opcode.MAINTENANCE_IN, 0x0e), { name: 'REPORT PRIORITY', rule: ALLOWED }],
  [sa(Opcode.MAINTENANCE_IN, 0x0c), { name: 'REPORT SUPPORTED OPERATION CODES', rule: READ }],
  [sa(Opcode.MAINTENANCE_IN, 0x0d), { name: 'REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS', rule: READ }],
  // Multipath prioritizers ask every path for RTPG: it passes SPC-2 reservations too.
  [sa(Opcode.MAINTENANCE_IN, 0x0a), { name: 'REPORT TARGET PORT GROUPS', rule: ALWAYS }],
  [sa(Opcode.MAINTENANCE_IN, 0x0f), { name: 'REPORT TIMESTAMP', rule: ALLOWED }],
  [`${Opcode.REQUEST_SENSE}`, { name: 'REQUEST SENSE', rule: ALWAYS }],
  [`${0xa2}`, { name: 'SECURITY PROTOCOL IN', rule: READ }],
  [`${0xb5}`, { name: 'SECURITY PROTOCOL OUT', rule: WRITE }],
  [`${Opcode.SEND_DIAGNOSTIC}`, { name: 'SEND DIAGNOSTIC', rule: WRITE }],
  [sa(Opcode.MAINTENANCE_OUT, 0x06), { name: 'SET IDENTIFYING INFORMATION', rule: WRITE }],
  [sa(Opcode.MAINTENANCE_OUT, 0x0e), { name: 'SET PRIORITY', rule: WRITE }],
  [sa(Opcode.MAINTENANCE_OUT, 0x0a), { name: 'SET TARGET PORT GROUPS', rule: WRITE }],
  [sa(Opcode.MAINTENANCE_OUT, 0x0f), { name: 'SET TIMESTAMP', rule: WRITE }],
  [`${Opcode.TEST_UNIT_READY}`, { name: 'TEST UNIT READY', rule: ALLOWED }],
  [`${0x8d}`, { name: 'WRITE ATTRIBUTE', rule: WRITE }],
  [`${Opcode.WRITE_BUFFER}`, { name: 'WRITE BUFFER', rule: WRITE }],
  // SPC-4 Table 44: PERSISTENT RESERVE OUT from an I_T nexus that does not hold the reservation.
  [
    sa(Opcode.PERSISTENT_RESERVE_OUT, ProutServiceAction.REGISTER),
    { name: 'PROUT REGISTER', rule: table44('A', 'A') },
  ],
  [
    sa(Opcode.PERSISTENT_RESERVE_OUT, ProutServiceAction.REGISTER_AND_IGNORE_EXISTING_KEY),
    { name: 'PROUT REGISTER AND IGNORE EXISTING KEY', rule: table44('A', 'A') },
  ],
  [
    sa(Opcode.PERSISTENT_RESERVE_OUT, ProutServiceAction.RESERVE),
    { name: 'PROUT RESERVE', rule: table44('C', 'C') },
  ],
  [
    sa(Opcode.PERSISTENT_RESERVE_OUT, ProutServiceAction.RELEASE),
    { name: 'PROUT RELEASE', rule: table44('A', 'C') },
  ],
  [
    sa(Opcode.PERSISTENT_RESERVE_OUT, ProutServiceAction.CLEAR),
    { name: 'PROUT CLEAR', rule: table44('A', 'C') },
  ],
  [
    sa(Opcode.PERSISTENT_RESERVE_OUT, ProutServiceAction.PREEMPT),
    { name: 'PROUT PREEMPT', rule: table44('A', 'C') },
  ],
  [
    sa(Opcode.PERSISTENT_RESERVE_OUT, ProutServiceAction.PREEMPT_AND_ABORT),
    { name: 'PROUT PREEMPT AND ABORT', rule: table44('A', 'C') },
  ],
  [
    sa(Opcode.PERSISTENT_RESERVE_OUT, ProutServiceAction.REGISTER_AND_MOVE),
    { name: 'PROUT REGISTER AND MOVE', rule: table44('C', 'C') },
  ],
  // SPC-2 RESERVE/RELEASE: conflicts with an SPC-2 reservation decided by the handler (a RELEASE
  // from another I_T nexus is GOOD), and with any registration (SPC-4 5.13.3).
  [`${Opcode.RESERVE_6}`, { name: 'RESERVE(6)', rule: { ...ALWAYS, whileRegistered: 'conflict' } }],
  [`${Opcode.RESERVE_10}`, { name: 'RESERVE(10)', rule: { ...ALWAYS, whileRegistered: 'conflict' } }],
  [`${Opcode.RELEASE_6}`, { name: 'RELEASE(6)', rule: { ...ALWAYS, whileRegistered: 'conflict' } }],
  [`${Opcode.RELEASE_10}`, { name: 'RELEASE(10)', rule: { ...ALWAYS, whileRegistered: 'conflict' } }],
  // SBC-3 Table 13.
  [`${Opcode.COMPARE_AND_WRITE}`, { name: 'COMPARE AND WRITE', rule: WRITE }],
  [`${Opcode.FORMAT_UNIT}`, { name: 'FORMAT UNIT', rule: WRITE }],
  [sa(Opcode.SERVICE_ACTION_IN_16, 0x12), { name: 'GET LBA STATUS', rule: READ }],
  [`${Opcode.ORWRITE_16}`, { name: 'ORWRITE(16)', rule: WRITE }],
  [`${Opcode.PRE_FETCH_10}`, { name: 'PRE-FETCH(10)', rule: READ }],
  [`${Opcode.PRE_FETCH_16}`, { name: 'PRE-FETCH(16)', rule: READ }],
  [
    `${Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL}`,
    // PREVENT field zero (allow removal) is harmless; preventing it is a change of state.
    { name: 'PREVENT ALLOW MEDIUM REMOVAL', rule: (cdb) => ((cdb[4]! & 0x03) === 0 ? ALLOWED : WRITE) },
  ],
  [`${Opcode.READ_6}`, { name: 'READ(6)', rule: READ }],
  [`${Opcode.READ_10}`, { name: 'READ(10)', rule: READ }],
  [`${Opcode.READ_12}`, { name: 'READ(12)', rule: READ }],
  [`${Opcode.READ_16}`, { name: 'READ(16)', rule: READ }],
  [`${Opcode.READ_CAPACITY_10}`, { name: 'READ CAPACITY(10)', rule: ALLOWED }],
  [sa(Opcode.SERVICE_ACTION_IN_16, 0x10), { name: 'READ CAPACITY(16)', rule: ALLOWED }],
  [`${Opcode.READ_DEFECT_DATA_10}`, { name: 'READ DEFECT DATA(10)', rule: READ }],
  [`${Opcode.READ_DEFECT_DATA_12}`, { name: 'READ DEFECT DATA(12)', rule: READ }],
  [`${0x3e}`, { name: 'READ LONG(10)', rule: READ }],
  [sa(Opcode.SERVICE_ACTION_IN_16, 0x11), { name: 'READ LONG(16)', rule: READ }],
  [`${0x07}`, { name: 'REASSIGN BLOCKS', rule: WRITE }],
  [`${0x48}`, { name: 'SANITIZE', rule: WRITE }],
  [
    `${Opcode.START_STOP_UNIT}`,
    // START = 1 with POWER CONDITION = 0 only spins the medium up.
    { name: 'START STOP UNIT', rule: (cdb) => ((cdb[4]! & 0xf1) === 0x01 ? ALLOWED : WRITE) },
  ],
  [`${Opcode.SYNCHRONIZE_CACHE_10}`, { name: 'SYNCHRONIZE CACHE(10)', rule: WRITE }],
  [`${Opcode.SYNCHRONIZE_CACHE_16}`, { name: 'SYNCHRONIZE CACHE(16)', rule: WRITE }],
  [`${Opcode.UNMAP}`, { name: 'UNMAP', rule: WRITE }],
  [`${Opcode.VERIFY_10}`, { name: 'VERIFY(10)', rule: READ }],
  [`${Opcode.VERIFY_12}`, { name: 'VERIFY(12)', rule: READ }],
  [`${Opcode.VERIFY_16}`, { name: 'VERIFY(16)', rule: READ }],
  [`${Opcode.WRITE_6}`, { name: 'WRITE(6)', rule: WRITE }],
  [`${Opcode.WRITE_10}`, { name: 'WRITE(10)', rule: WRITE }],
  [`${Opcode.WRITE_12}`, { name: 'WRITE(12)', rule: WRITE }],
  [`${Opcode.WRITE_16}`, { name: 'WRITE(16)', rule: WRITE }],
  [`${Opcode.WRITE_AND_VERIFY_10}`, { name: 'WRITE AND VERIFY(10)', rule: WRITE }],
  [`${Opcode.WRITE_AND_VERIFY_12}`, { name: 'WRITE AND VERIFY(12)', rule: WRITE }],
  [`${Opcode.WRITE_AND_VERIFY_16}`, { name: 'WRITE AND VERIFY(16)', rule: WRITE }],
  [`${0x3f}`, { name: 'WRITE LONG(10)', rule: WRITE }],
  [sa(Opcode.SERVICE_ACTION_OUT_16, 0x11), { name: 'WRITE LONG(16)', rule: WRITE }],
  [`${Opcode.WRITE_SAME_10}`, { name: 'WRITE SAME(10)', rule: WRITE }],
  [`${Opcode.WRITE_SAME_16}`, { name: 'WRITE SAME(16)', rule: WRITE }],
]);

/** What the gate knows of a command: its opcode row (possibly with a service action). */
export interface CommandShape {
  readonly opcode: number;
  readonly serviceAction?: number;
  readonly direction: 'none' | 'in' | 'out';
  readonly writesMedium?: boolean;
}

const cache = new WeakMap<CommandShape, ConflictRule | ((cdb: Buffer) => ConflictRule)>();

/** The conflict rule of a command: its table entry, else the default from its opcode row. */
export function conflictRuleFor(row: CommandShape, cdb: Buffer): ConflictRule {
  let r = cache.get(row);
  if (r === undefined) {
    const entry =
      (row.serviceAction !== undefined ? CONFLICT_TABLE.get(sa(row.opcode, row.serviceAction)) : undefined) ??
      CONFLICT_TABLE.get(`${row.opcode}`);
    r = entry?.rule ?? (row.writesMedium || row.direction === 'out' ? WRITE : READ);
    cache.set(row, r);
  }
  return typeof r === 'function' ? r(cdb) : r;
}

function column(rule: ConflictRule, type: number): ByRegistration {
  if (type === PrType.WRITE_EXCLUSIVE) return rule.writeExclusive;
  if (type === PrType.EXCLUSIVE_ACCESS) return rule.exclusiveAccess;
  const we =
    type === PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY || type === PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS;
  return we ? rule.writeExclusiveRegistrants : rule.exclusiveAccessRegistrants;
}

/**
 * Whether a command from `nexus` meets RESERVATION CONFLICT (SPC-4 5.13.1, SPC-2 5.5.1). The
 * holder of a persistent reservation is never in conflict with it.
 */
export function reservationConflict(
  state: ReservationState,
  nexus: NexusIdentity,
  rule: ConflictRule,
): boolean {
  if (state.spc2) {
    if (rule.spc2 === 'conflict-any') return true;
    if (rule.spc2 === 'conflict' && !sameNexus(state.spc2.holder, nexus)) return true;
  }
  if (rule.whileRegistered === 'conflict' && state.registrations.length > 0) return true;
  const r = state.reservation;
  if (!r) return false;
  const registered = registrationOf(state, nexus) !== undefined;
  // Every registrant holds an all-registrants reservation.
  if (isAllRegistrants(r.type) ? registered : sameNexus(r.holder, nexus)) return false;
  const col = column(rule, r.type);
  return (registered ? col.registered : col.notRegistered) === 'conflict';
}
