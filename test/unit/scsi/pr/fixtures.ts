// Shared builders for the PR state machine tests: nexuses, keys and requests written out here,
// so that the tests do not lean on src for the values they check.
import { type PrOutRequest, persistentReserveOut } from '../../../../src/scsi/pr/prout.js';
import type { PrResult } from '../../../../src/scsi/pr/result.js';
import { EMPTY_STATE, type NexusIdentity, type ReservationState } from '../../../../src/scsi/pr/state.js';
import { Status } from '../../../helpers/wire.js';

/** SPC-4 6.16.2 Table 169. */
export const SA = {
  REGISTER: 0,
  RESERVE: 1,
  RELEASE: 2,
  CLEAR: 3,
  PREEMPT: 4,
  PREEMPT_AND_ABORT: 5,
  REGISTER_AND_IGNORE_EXISTING_KEY: 6,
  REGISTER_AND_MOVE: 7,
} as const;
export type SaCode = (typeof SA)[keyof typeof SA];

/** SPC-4 6.16.2 Table 170. */
export const TYPE = { WE: 1, EA: 3, WE_RO: 5, EA_RO: 6, WE_AR: 7, EA_AR: 8 } as const;
export type TypeName = keyof typeof TYPE;
export const TYPES = Object.keys(TYPE) as TypeName[];

export function nexus(initiator: string, isid = '400001370000', relativePortId = 1): NexusIdentity {
  return { initiator, isid, relativePortId };
}

export const A = nexus('iqn.2026-01.test:a', '400001370001');
export const B = nexus('iqn.2026-01.test:b', '400001370002');
export const C = nexus('iqn.2026-01.test:c', '400001370003');
export const D = nexus('iqn.2026-01.test:d', '400001370004');

export const ZERO = '0000000000000000';
export const key = (n: number): string => n.toString(16).padStart(16, '0');

export function req(serviceAction: SaCode, n: NexusIdentity, o: Partial<PrOutRequest> = {}): PrOutRequest {
  return {
    serviceAction,
    nexus: n,
    scope: 0,
    type: 0,
    key: ZERO,
    serviceActionKey: ZERO,
    specIPt: false,
    allTgPt: false,
    aptpl: false,
    transportIds: [],
    unreg: false,
    relativePortId: 0,
    ...o,
  };
}

/** Applies a request that must succeed and returns the new state. */
export function ok(state: ReservationState, r: PrOutRequest): ReservationState {
  const res = persistentReserveOut(state, r);
  if (res.outcome.status !== Status.GOOD) {
    throw new Error(
      `SA ${r.serviceAction} failed: status ${res.outcome.status} ${res.outcome.sense?.name ?? ''}`,
    );
  }
  return res.state;
}

export function registered(...entries: [NexusIdentity, string][]): ReservationState {
  let s: ReservationState = EMPTY_STATE;
  for (const [n, k] of entries) s = ok(s, req(SA.REGISTER, n, { serviceActionKey: k }));
  return s;
}

/** A and B registered (keys 0xa, 0xb), A holding a reservation of `type`. C is not registered. */
export function reservedBy(type: TypeName, holder: NexusIdentity = A): ReservationState {
  const s = registered([A, key(0xa)], [B, key(0xb)]);
  return ok(s, req(SA.RESERVE, holder, { key: holder === A ? key(0xa) : key(0xb), type: TYPE[type] }));
}

export function summary(r: PrResult): string {
  if (r.outcome.status === Status.GOOD) return 'GOOD';
  if (r.outcome.status === Status.RESERVATION_CONFLICT) return 'CONFLICT';
  return `CHECK ${r.outcome.sense?.name}`;
}
