import { CONFLICT, changed, GOOD, type PrResult, unchanged } from './result.js';
import { type NexusIdentity, type ReservationState, sameNexus } from './state.js';

/**
 * SPC-2 RESERVE(6)/RESERVE(10) of the whole LU (SPC-2 7.21), with the SPC-4 5.13.3 exception:
 * while any I_T nexus is registered for persistent reservations, RESERVE conflicts.
 */
export function spc2Reserve(state: ReservationState, nexus: NexusIdentity): PrResult {
  if (state.registrations.length > 0) return unchanged(state, CONFLICT);
  if (state.spc2) return unchanged(state, sameNexus(state.spc2.holder, nexus) ? GOOD : CONFLICT);
  return changed({ ...state, spc2: { holder: nexus } }, nexus);
}

/**
 * SPC-2 RELEASE(6)/RELEASE(10) (SPC-2 7.17): a release by an I_T nexus that does not hold the
 * reservation is GOOD and does nothing; with registrations present it conflicts (SPC-4 5.13.3).
 */
export function spc2Release(state: ReservationState, nexus: NexusIdentity): PrResult {
  if (state.registrations.length > 0) return unchanged(state, CONFLICT);
  if (!state.spc2 || !sameNexus(state.spc2.holder, nexus)) return unchanged(state, GOOD);
  return changed({ ...state, spc2: null }, nexus);
}

/** A logical unit reset releases the SPC-2 reservation; persistent reservations survive (SPC-4 5.13.1). */
export function logicalUnitReset(state: ReservationState): PrResult {
  return state.spc2 ? changed({ ...state, spc2: null }, undefined) : unchanged(state, GOOD);
}

/** The loss of the holder's I_T nexus releases the SPC-2 reservation (SPC-2 5.5.1). */
export function nexusLoss(state: ReservationState, nexus: NexusIdentity): PrResult {
  return state.spc2 && sameNexus(state.spc2.holder, nexus)
    ? changed({ ...state, spc2: null }, nexus)
    : unchanged(state, GOOD);
}
