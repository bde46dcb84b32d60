import type { SenseReason } from '../sense-reason.js';
import { ScsiStatus } from '../spec/status.js';
import type { NexusIdentity, NexusMatch, ReservationState } from './state.js';

/** The unit attentions a reservation change establishes (SPC-4 5.13.11, 6.16). */
export type ReservationUnitAttention =
  | 'RESERVATIONS_PREEMPTED'
  | 'RESERVATIONS_RELEASED'
  | 'REGISTRATIONS_PREEMPTED';

/** A unit attention for every I_T nexus that `nexus` covers, except `except` (the issuer). */
export interface UnitAttentionEffect {
  readonly nexus: NexusMatch;
  readonly reason: ReservationUnitAttention;
  readonly except?: NexusIdentity;
}

/**
 * What a change does beyond the new state; plain data, so that the cluster can ship it with
 * the state and every node can apply it to the nexuses logged in there.
 */
export interface ReservationEffects {
  readonly unitAttentions: readonly UnitAttentionEffect[];
  /** PREEMPT AND ABORT: the tasks of these I_T nexuses are aborted (SPC-4 5.13.11.4.5). */
  readonly abort: readonly NexusMatch[];
  /** The nexus whose command caused the change; its own command is never aborted. */
  readonly issuer?: NexusIdentity;
}

/** The answer for the issuer: SCSI status, sense reason (CHECK CONDITION) or data-in. */
export interface PrOutcome {
  readonly status: number;
  readonly sense?: SenseReason;
  readonly data?: Buffer;
}

/** `(state, request) → result`: the new state (=== the old one when unchanged), effects, outcome. */
export interface PrResult extends ReservationEffects {
  readonly state: ReservationState;
  readonly outcome: PrOutcome;
}

export const GOOD: PrOutcome = Object.freeze({ status: ScsiStatus.GOOD });
export const CONFLICT: PrOutcome = Object.freeze({ status: ScsiStatus.RESERVATION_CONFLICT });

export function checkCondition(sense: SenseReason): PrOutcome {
  return { status: ScsiStatus.CHECK_CONDITION, sense };
}

const NONE: readonly never[] = Object.freeze([]);

/** A result that changes nothing. */
export function unchanged(state: ReservationState, outcome: PrOutcome): PrResult {
  return { state, outcome, unitAttentions: NONE, abort: NONE };
}

export function changed(
  state: ReservationState,
  issuer: NexusIdentity | undefined,
  unitAttentions: readonly UnitAttentionEffect[] = NONE,
  abort: readonly NexusMatch[] = NONE,
  outcome: PrOutcome = GOOD,
): PrResult {
  return issuer
    ? { state, outcome, unitAttentions, abort, issuer }
    : { state, outcome, unitAttentions, abort };
}
