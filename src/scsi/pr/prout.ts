import { reason, type SenseReason } from '../sense-reason.js';
import {
  CONFLICT,
  changed,
  checkCondition,
  GOOD,
  type PrResult,
  type UnitAttentionEffect,
  unchanged,
} from './result.js';
import {
  FULL_CAPABILITIES,
  holderRegistration,
  isAllRegistrants,
  isHolder,
  isPrType,
  isRegistrantsOnly,
  type NexusIdentity,
  type NexusMatch,
  nextGeneration,
  PR_SCOPE_LU,
  type PrCapabilities,
  type PrKey,
  PrType,
  type Registration,
  type ReservationState,
  registrationOf,
  sameNexus,
  ZERO_KEY,
} from './state.js';
import type { TransportId } from './transport-id.js';

/** PERSISTENT RESERVE OUT service actions (SPC-4 6.16.2 Table 169). */
export const ProutServiceAction = {
  REGISTER: 0x00,
  RESERVE: 0x01,
  RELEASE: 0x02,
  CLEAR: 0x03,
  PREEMPT: 0x04,
  PREEMPT_AND_ABORT: 0x05,
  REGISTER_AND_IGNORE_EXISTING_KEY: 0x06,
  REGISTER_AND_MOVE: 0x07,
} as const;
export type ProutServiceActionCode = (typeof ProutServiceAction)[keyof typeof ProutServiceAction];

/** Registrations one LU keeps; beyond it REGISTER fails with INSUFFICIENT REGISTRATION RESOURCES. */
export const MAX_REGISTRATIONS = 512;

/** A TransportID from the parameter list and where it starts there (for the field pointer). */
export interface ParameterTransportId extends TransportId {
  readonly offset: number;
}

/** A decoded PERSISTENT RESERVE OUT command (CDB fields and parameter list). */
export interface PrOutRequest {
  readonly serviceAction: ProutServiceActionCode;
  readonly nexus: NexusIdentity;
  readonly scope: number;
  readonly type: number;
  readonly key: PrKey;
  readonly serviceActionKey: PrKey;
  readonly specIPt: boolean;
  readonly allTgPt: boolean;
  readonly aptpl: boolean;
  /** SPEC_I_PT: the I_T nexuses to register besides the issuer; REGISTER AND MOVE: the destination. */
  readonly transportIds: readonly ParameterTransportId[];
  /** REGISTER AND MOVE: UNREG and RELATIVE TARGET PORT IDENTIFIER. */
  readonly unreg: boolean;
  readonly relativePortId: number;
}

const invalidCdb = (byte: number, bit?: number): SenseReason =>
  reason('INVALID_FIELD_IN_CDB', {
    field: bit === undefined ? { inCdb: true, byte } : { inCdb: true, byte, bit },
  });
const invalidParam = (byte: number, bit?: number): SenseReason =>
  reason('INVALID_FIELD_IN_PARAMETER_LIST', {
    field: bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit },
  });

/** SCOPE and TYPE (CDB byte 2) of a service action that uses them. */
function scopeTypeError(req: PrOutRequest): SenseReason | undefined {
  if (req.scope !== PR_SCOPE_LU) return invalidCdb(2, 7);
  if (!isPrType(req.type)) return invalidCdb(2, 3);
  return undefined;
}

function ua(nexus: NexusMatch, r: UnitAttentionEffect['reason'], except: NexusIdentity): UnitAttentionEffect {
  return { nexus, reason: r, except };
}

/** SPC-4 5.13.11.3 / 5.13.10: what losing registrations does to the reservation. */
function dropOrphanedReservation(next: ReservationState): ReservationState {
  const r = next.reservation;
  if (!r) return next;
  const keep = isAllRegistrants(r.type)
    ? next.registrations.length > 0
    : registrationOf(next, r.holder) !== undefined;
  return keep ? next : { ...next, reservation: null };
}

/**
 * PERSISTENT RESERVE OUT as a pure function (SPC-4 5.13 and 6.16). The reservation-conflict
 * check of the gate (Table 44) has already run; the rules here are those of each service action.
 */
export function persistentReserveOut(
  state: ReservationState,
  req: PrOutRequest,
  caps: PrCapabilities = FULL_CAPABILITIES,
): PrResult {
  // SPC-4 5.13.5: APTPL where it cannot be honoured is an invalid parameter.
  if (req.aptpl && !caps.persistThroughPowerLoss) {
    if (req.serviceAction === ProutServiceAction.REGISTER_AND_MOVE) {
      return unchanged(state, checkCondition(invalidParam(17, 0)));
    }
    if (
      req.serviceAction === ProutServiceAction.REGISTER ||
      req.serviceAction === ProutServiceAction.REGISTER_AND_IGNORE_EXISTING_KEY
    ) {
      return unchanged(state, checkCondition(invalidParam(20, 0)));
    }
  }
  switch (req.serviceAction) {
    case ProutServiceAction.REGISTER:
      return register(state, req, false);
    case ProutServiceAction.REGISTER_AND_IGNORE_EXISTING_KEY:
      return register(state, req, true);
    case ProutServiceAction.RESERVE:
      return reserve(state, req);
    case ProutServiceAction.RELEASE:
      return release(state, req);
    case ProutServiceAction.CLEAR:
      return clear(state, req);
    case ProutServiceAction.PREEMPT:
      return preempt(state, req, false);
    case ProutServiceAction.PREEMPT_AND_ABORT:
      return preempt(state, req, true);
    case ProutServiceAction.REGISTER_AND_MOVE:
      return registerAndMove(state, req);
  }
}

/** SPC-4 5.13.7, Tables 46 and 47: REGISTER and REGISTER AND IGNORE EXISTING KEY. */
function register(state: ReservationState, req: PrOutRequest, ignoreKey: boolean): PrResult {
  const n = req.nexus;
  const own = registrationOf(state, n);
  if (!own) {
    if (!ignoreKey && req.key !== ZERO_KEY) return unchanged(state, CONFLICT);
    // Unregistered and SERVICE ACTION RESERVATION KEY zero: nothing to do (Table 46).
    if (req.serviceActionKey === ZERO_KEY) return unchanged(state, GOOD);
    const added: Registration[] = [
      {
        initiator: n.initiator,
        isid: n.isid,
        relativePortId: n.relativePortId,
        allTgPt: req.allTgPt,
        key: req.serviceActionKey,
      },
    ];
    if (req.specIPt) {
      for (const t of req.transportIds) {
        const reg: Registration = {
          initiator: t.name,
          isid: t.isid,
          relativePortId: n.relativePortId,
          allTgPt: req.allTgPt,
          key: req.serviceActionKey,
        };
        // The issuer is registered anyway; a TransportID repeated in the list adds nothing.
        if (t.name === n.initiator && t.isid === n.isid) continue;
        if (added.some((a) => a.initiator === reg.initiator && a.isid === reg.isid)) continue;
        // SPC-4 5.13.7: a TransportID naming an I_T nexus that is already registered fails the
        // whole command; no registration is made.
        if (state.registrations.some((r) => overlaps(r, reg)))
          return unchanged(state, checkCondition(invalidParam(t.offset)));
        added.push(reg);
      }
    }
    if (state.registrations.length + added.length > MAX_REGISTRATIONS) {
      return unchanged(state, checkCondition(reason('INSUFFICIENT_REGISTRATION_RESOURCES')));
    }
    return changed(
      {
        ...state,
        generation: nextGeneration(state.generation),
        aptpl: req.aptpl,
        registrations: [...state.registrations, ...added],
      },
      n,
    );
  }
  if (!ignoreKey && req.key !== own.key) return unchanged(state, CONFLICT);
  // Table 47: SPEC_I_PT from a registered I_T nexus.
  if (req.specIPt) return unchanged(state, checkCondition(invalidCdb(1)));
  if (req.serviceActionKey !== ZERO_KEY) {
    return changed(
      {
        ...state,
        generation: nextGeneration(state.generation),
        aptpl: req.aptpl,
        registrations: state.registrations.map((r) => (r === own ? { ...r, key: req.serviceActionKey } : r)),
      },
      n,
    );
  }
  // Unregister (SPC-4 5.13.11.3).
  const wasHolder = holderRegistration(state) === own;
  const next = dropOrphanedReservation({
    ...state,
    generation: nextGeneration(state.generation),
    aptpl: req.aptpl,
    registrations: state.registrations.filter((r) => r !== own),
  });
  const uas: UnitAttentionEffect[] = [];
  // The holder of a registrants-only reservation unregistered: the reservation is released and
  // every other registrant learns it.
  if (wasHolder && state.reservation && isRegistrantsOnly(state.reservation.type)) {
    for (const r of next.registrations) uas.push(ua(r, 'RESERVATIONS_RELEASED', n));
  }
  return changed(next, n, uas);
}

/** Two registrations name at least one common I_T nexus. */
function overlaps(a: NexusMatch, b: NexusMatch): boolean {
  return (
    a.initiator === b.initiator &&
    (a.isid === null || b.isid === null || a.isid === b.isid) &&
    (a.allTgPt || b.allTgPt || a.relativePortId === b.relativePortId)
  );
}

/** Registered and with the right RESERVATION KEY, else RESERVATION CONFLICT (SPC-4 5.13.11.1). */
function registeredWithKey(state: ReservationState, req: PrOutRequest): Registration | undefined {
  const own = registrationOf(state, req.nexus);
  return own && own.key === req.key ? own : undefined;
}

/** SPC-4 5.13.9: RESERVE. */
function reserve(state: ReservationState, req: PrOutRequest): PrResult {
  const type = req.type;
  if (req.scope !== PR_SCOPE_LU || !isPrType(type))
    return unchanged(state, checkCondition(scopeTypeError(req)!));
  if (!registeredWithKey(state, req)) return unchanged(state, CONFLICT);
  const r = state.reservation;
  if (r) {
    // Another holder, or the holder asking for a different type or scope: conflict. The same
    // reservation again: nothing to do.
    if (!isHolder(state, req.nexus) || r.type !== req.type || r.scope !== req.scope)
      return unchanged(state, CONFLICT);
    return unchanged(state, GOOD);
  }
  return changed({ ...state, reservation: { holder: req.nexus, type, scope: PR_SCOPE_LU } }, req.nexus);
}

/** SPC-4 5.13.11.2: RELEASE. */
function release(state: ReservationState, req: PrOutRequest): PrResult {
  if (!registeredWithKey(state, req)) return unchanged(state, CONFLICT);
  const r = state.reservation;
  // No reservation, or a registrant that does not hold it: GOOD, nothing released.
  if (!r || !isHolder(state, req.nexus)) return unchanged(state, GOOD);
  if (r.type !== req.type || r.scope !== req.scope) {
    return unchanged(state, checkCondition(reason('INVALID_RELEASE_OF_PERSISTENT_RESERVATION')));
  }
  const next = { ...state, reservation: null };
  const uas: UnitAttentionEffect[] = [];
  // Releasing a registrants-only or all-registrants reservation tells every other registrant.
  if (r.type !== PrType.WRITE_EXCLUSIVE && r.type !== PrType.EXCLUSIVE_ACCESS) {
    for (const reg of state.registrations) uas.push(ua(reg, 'RESERVATIONS_RELEASED', req.nexus));
  }
  return changed(next, req.nexus, uas);
}

/** SPC-4 5.13.11.5: CLEAR. */
function clear(state: ReservationState, req: PrOutRequest): PrResult {
  if (!registeredWithKey(state, req)) return unchanged(state, CONFLICT);
  const uas = state.registrations.map((r) => ua(r, 'RESERVATIONS_PREEMPTED', req.nexus));
  return changed(
    { ...state, generation: nextGeneration(state.generation), registrations: [], reservation: null },
    req.nexus,
    uas,
  );
}

/** SPC-4 5.13.11.4: PREEMPT and PREEMPT AND ABORT. */
function preempt(state: ReservationState, req: PrOutRequest, abort: boolean): PrResult {
  const own = registeredWithKey(state, req);
  if (!own) return unchanged(state, CONFLICT);
  const n = req.nexus;
  const r = state.reservation;
  const sark = req.serviceActionKey;
  const allRegistrants = r !== null && isAllRegistrants(r.type);
  // A zero SERVICE ACTION RESERVATION KEY names a holder only for the all-registrants types.
  if (sark === ZERO_KEY && !allRegistrants) return unchanged(state, checkCondition(invalidParam(8)));
  const holderKey = holderRegistration(state)?.key;
  const preemptsReservation = r !== null && (allRegistrants ? sark === ZERO_KEY : sark === holderKey);
  if (!r || !preemptsReservation) {
    // No reservation, or the key names no holder (5.13.11.4.2): only registrations go, SCOPE
    // and TYPE are ignored; a key that matches nobody is a conflict.
    const removed = state.registrations.filter((reg) => reg.key === sark);
    if (removed.length === 0) return unchanged(state, CONFLICT);
    const next = dropOrphanedReservation({
      ...state,
      generation: nextGeneration(state.generation),
      registrations: state.registrations.filter((reg) => reg.key !== sark),
    });
    const uas = removed.map((reg) => ua(reg, 'REGISTRATIONS_PREEMPTED', n));
    return changed(next, n, uas, abort ? removed : []);
  }
  // The reservation is preempted (5.13.11.4.3): the issuer becomes the holder of a reservation of
  // the requested type; registrations named by the key (all others, for all-registrants) go.
  const type = req.type;
  if (req.scope !== PR_SCOPE_LU || !isPrType(type))
    return unchanged(state, checkCondition(scopeTypeError(req)!));
  const gone = (reg: Registration) => reg !== own && (allRegistrants || reg.key === sark);
  const removed = state.registrations.filter(gone);
  const kept = state.registrations.filter((reg) => !gone(reg));
  const uas: UnitAttentionEffect[] = removed.map((reg) => ua(reg, 'REGISTRATIONS_PREEMPTED', n));
  if (r.type !== type || r.scope !== req.scope) {
    for (const reg of kept) uas.push(ua(reg, 'RESERVATIONS_RELEASED', n));
  }
  const next: ReservationState = {
    ...state,
    generation: nextGeneration(state.generation),
    registrations: kept,
    reservation: { holder: n, type, scope: PR_SCOPE_LU },
  };
  return changed(next, n, uas, abort ? removed : []);
}

/** SPC-4 5.13.8: REGISTER AND MOVE. */
function registerAndMove(state: ReservationState, req: PrOutRequest): PrResult {
  const own = registeredWithKey(state, req);
  if (!own) return unchanged(state, CONFLICT);
  const r = state.reservation;
  // Only the holder of a reservation that has a single holder can move it.
  if (!r || !isHolder(state, req.nexus) || isAllRegistrants(r.type)) return unchanged(state, CONFLICT);
  if (req.serviceActionKey === ZERO_KEY) return unchanged(state, checkCondition(invalidParam(8)));
  const t = req.transportIds[0];
  // The destination must be one I_T nexus: an initiator port (format 01b) on an existing port.
  if (!t || t.isid === null) return unchanged(state, checkCondition(invalidParam(t ? t.offset : 24)));
  if (req.relativePortId === 0) return unchanged(state, checkCondition(invalidParam(18)));
  const dest: NexusIdentity = { initiator: t.name, isid: t.isid, relativePortId: req.relativePortId };
  if (sameNexus(dest, req.nexus)) return unchanged(state, checkCondition(invalidParam(t.offset)));
  let registrations = state.registrations;
  if (!registrationOf(state, dest)) {
    if (registrations.length >= MAX_REGISTRATIONS) {
      return unchanged(state, checkCondition(reason('INSUFFICIENT_REGISTRATION_RESOURCES')));
    }
    registrations = [...registrations, { ...dest, allTgPt: false, key: req.serviceActionKey }];
  }
  if (req.unreg) {
    // The issuer's registration goes, unless it is also the destination's (ALL_TG_PT).
    const destReg = registrationOf({ ...state, registrations }, dest);
    if (destReg !== own) registrations = registrations.filter((reg) => reg !== own);
  }
  const next: ReservationState = {
    ...state,
    generation: nextGeneration(state.generation),
    aptpl: req.aptpl,
    registrations,
    reservation: { holder: dest, type: r.type, scope: r.scope },
  };
  return changed(next, req.nexus);
}
