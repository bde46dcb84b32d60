/**
 * The persistent reservation state of one logical unit (SPC-4 5.13) as a plain, JSON-serializable
 * value: the cluster stores it in etcd and every node applies the same value; embedded mode keeps
 * it in memory (and in a file while APTPL is set). Nothing here refers to a transport object.
 */

/** PERSISTENT RESERVE OUT TYPE codes (SPC-4 6.16.2 Table 170). */
export const PrType = {
  WRITE_EXCLUSIVE: 0x1,
  EXCLUSIVE_ACCESS: 0x3,
  WRITE_EXCLUSIVE_REGISTRANTS_ONLY: 0x5,
  EXCLUSIVE_ACCESS_REGISTRANTS_ONLY: 0x6,
  WRITE_EXCLUSIVE_ALL_REGISTRANTS: 0x7,
  EXCLUSIVE_ACCESS_ALL_REGISTRANTS: 0x8,
} as const;
export type PrTypeCode = (typeof PrType)[keyof typeof PrType];

export const PR_TYPES: readonly PrTypeCode[] = Object.values(PrType);

/** The only SCOPE the standard still defines (SPC-4 6.16.2: LU_SCOPE). */
export const PR_SCOPE_LU = 0;

export function isPrType(t: number): t is PrTypeCode {
  return (PR_TYPES as readonly number[]).includes(t);
}

/** WE_AR / EA_AR: every registered I_T nexus is a reservation holder (SPC-4 5.13.10). */
export function isAllRegistrants(t: PrTypeCode): boolean {
  return t === PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS || t === PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
}

export function isRegistrantsOnly(t: PrTypeCode): boolean {
  return t === PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY || t === PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY;
}

/** A reservation key: 16 lowercase hex digits (JSON has no 64-bit integers). */
export type PrKey = string;
export const ZERO_KEY: PrKey = '0000000000000000';

export function keyFromBuffer(b: Buffer, offset: number): PrKey {
  return b.subarray(offset, offset + 8).toString('hex');
}

/**
 * One I_T nexus, transport-independently: the iSCSI initiator port (name + ISID, RFC 7143 13.1)
 * and the relative target port id. The name is lowercase (iSCSI names compare case-insensitively).
 */
export interface NexusIdentity {
  readonly initiator: string;
  /** 12 lowercase hex digits. */
  readonly isid: string;
  readonly relativePortId: number;
}

/** The I_T nexuses a registration or an effect applies to. */
export interface NexusMatch {
  readonly initiator: string;
  /** null: every initiator port of the initiator device (TransportID format 00b, SPC-4 7.6.4.6). */
  readonly isid: string | null;
  /** The target port the registration was made through (reported by READ FULL STATUS). */
  readonly relativePortId: number;
  /** Registered with ALL_TG_PT: the registration covers the initiator port on every target port. */
  readonly allTgPt: boolean;
}

/** A registration (SPC-4 5.13.7). */
export interface Registration extends NexusMatch {
  readonly key: PrKey;
}

/** The persistent reservation. For the all-registrants types every registrant holds it. */
export interface PersistentReservation {
  /** The I_T nexus that established it (for WE_AR/EA_AR only informative). */
  readonly holder: NexusIdentity;
  readonly type: PrTypeCode;
  readonly scope: number;
}

/** An SPC-2 RESERVE(6)/RESERVE(10) reservation: one I_T nexus, the whole LU (SPC-2 7.21). */
export interface Spc2Reservation {
  readonly holder: NexusIdentity;
}

/** What the device server offers beyond the state itself (REPORT CAPABILITIES). */
export interface PrCapabilities {
  /** PTPL_C: APTPL is honoured (the store keeps the state across restarts). */
  readonly persistThroughPowerLoss: boolean;
}

export const FULL_CAPABILITIES: PrCapabilities = Object.freeze({ persistThroughPowerLoss: true });

export interface ReservationState {
  /** PRgeneration (SPC-4 6.15.2), a 32-bit counter. */
  readonly generation: number;
  /** The APTPL bit of the last successful REGISTER / REGISTER AND IGNORE / REGISTER AND MOVE. */
  readonly aptpl: boolean;
  /** In registration order (READ KEYS and READ FULL STATUS report them in it). */
  readonly registrations: readonly Registration[];
  readonly reservation: PersistentReservation | null;
  readonly spc2: Spc2Reservation | null;
}

export const EMPTY_STATE: ReservationState = Object.freeze({
  generation: 0,
  aptpl: false,
  registrations: Object.freeze([]) as readonly Registration[],
  reservation: null,
  spc2: null,
});

export function sameNexus(a: NexusIdentity, b: NexusIdentity): boolean {
  return a.initiator === b.initiator && a.isid === b.isid && a.relativePortId === b.relativePortId;
}

export function covers(m: NexusMatch, n: NexusIdentity): boolean {
  return (
    m.initiator === n.initiator &&
    (m.isid === null || m.isid === n.isid) &&
    (m.allTgPt || m.relativePortId === n.relativePortId)
  );
}

/** How precisely a registration names a nexus: an exact one wins over an ALL_TG_PT or ISID-less one. */
function specificity(r: NexusMatch): number {
  return (r.isid !== null ? 2 : 0) + (r.allTgPt ? 0 : 1);
}

/**
 * The registration of an I_T nexus, if any. Registrations may overlap (an ALL_TG_PT registration
 * and a later one on a single port); the most specific one is the nexus's registration, which
 * is SPC-4's "register every I_T nexus that is not registered yet" in a compact form.
 */
export function registrationOf(state: ReservationState, n: NexusIdentity): Registration | undefined {
  let best: Registration | undefined;
  for (const r of state.registrations) {
    if (!covers(r, n)) continue;
    if (!best || specificity(r) > specificity(best)) best = r;
  }
  return best;
}

/** SPC-4 5.13.10: the holder of an all-registrants reservation is every registered I_T nexus. */
export function isHolder(state: ReservationState, n: NexusIdentity): boolean {
  const r = state.reservation;
  if (!r) return false;
  if (isAllRegistrants(r.type)) return registrationOf(state, n) !== undefined;
  return sameNexus(r.holder, n);
}

/** The registration whose key READ RESERVATION reports (undefined for all-registrants types). */
export function holderRegistration(state: ReservationState): Registration | undefined {
  const r = state.reservation;
  if (!r || isAllRegistrants(r.type)) return undefined;
  return registrationOf(state, r.holder);
}

export function nextGeneration(g: number): number {
  return (g + 1) >>> 0;
}

/**
 * Checks a value read back from a file or etcd; throws on anything that is not a reservation
 * state (a corrupt APTPL file must stop the LU from starting, never silently drop reservations).
 */
export function parseReservationState(raw: unknown): ReservationState {
  const fail = (what: string): never => {
    throw new Error(`not a reservation state: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null) return fail('not an object');
  const o = raw as Record<string, unknown>;
  const nexus = (x: unknown, where: string): NexusIdentity => {
    if (typeof x !== 'object' || x === null) return fail(where);
    const v = x as Record<string, unknown>;
    if (typeof v.initiator !== 'string' || typeof v.isid !== 'string' || !/^[0-9a-f]{12}$/.test(v.isid)) {
      return fail(where);
    }
    if (!Number.isInteger(v.relativePortId)) return fail(where);
    return { initiator: v.initiator, isid: v.isid, relativePortId: v.relativePortId as number };
  };
  if (!Number.isInteger(o.generation) || (o.generation as number) < 0) fail('generation');
  if (typeof o.aptpl !== 'boolean') fail('aptpl');
  if (!Array.isArray(o.registrations)) return fail('registrations');
  const registrations = o.registrations.map((x, i): Registration => {
    const v = x as Record<string, unknown>;
    if (typeof v !== 'object' || v === null) return fail(`registration ${i}`);
    if (typeof v.initiator !== 'string') fail(`registration ${i} initiator`);
    if (v.isid !== null && (typeof v.isid !== 'string' || !/^[0-9a-f]{12}$/.test(v.isid)))
      fail(`registration ${i} isid`);
    if (!Number.isInteger(v.relativePortId)) fail(`registration ${i} relativePortId`);
    if (typeof v.allTgPt !== 'boolean') fail(`registration ${i} allTgPt`);
    if (typeof v.key !== 'string' || !/^[0-9a-f]{16}$/.test(v.key) || v.key === ZERO_KEY)
      fail(`registration ${i} key`);
    return {
      initiator: v.initiator as string,
      isid: v.isid as string | null,
      relativePortId: v.relativePortId as number,
      allTgPt: v.allTgPt as boolean,
      key: v.key as string,
    };
  });
  let reservation: PersistentReservation | null = null;
  if (o.reservation !== null && o.reservation !== undefined) {
    const v = o.reservation as Record<string, unknown>;
    if (typeof v.type !== 'number' || !isPrType(v.type)) return fail('reservation type');
    if (v.scope !== PR_SCOPE_LU) fail('reservation scope');
    reservation = { holder: nexus(v.holder, 'reservation holder'), type: v.type, scope: PR_SCOPE_LU };
  }
  let spc2: Spc2Reservation | null = null;
  if (o.spc2 !== null && o.spc2 !== undefined) {
    spc2 = { holder: nexus((o.spc2 as Record<string, unknown>).holder, 'spc2 holder') };
  }
  return { generation: o.generation as number, aptpl: o.aptpl as boolean, registrations, reservation, spc2 };
}
