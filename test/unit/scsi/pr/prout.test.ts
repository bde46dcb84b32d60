// The PERSISTENT RESERVE OUT state machine: every service action × reservation type × issuing
// I_T nexus (the holder, a registered one, a not registered one), checked against SPC-4 Table 44
// (what passes the gate) and the service action rules of SPC-4 5.13.7–5.13.11; then the
// registration, generation, unit attention and parameter edge cases.
import { describe, expect, it } from 'vitest';
import { conflictRuleFor, reservationConflict } from '../../../../src/scsi/pr/conflict-table.js';
import { persistentReserveIn } from '../../../../src/scsi/pr/prin.js';
import { MAX_REGISTRATIONS, type PrOutRequest, persistentReserveOut } from '../../../../src/scsi/pr/prout.js';
import type { PrResult } from '../../../../src/scsi/pr/result.js';
import {
  EMPTY_STATE,
  type NexusIdentity,
  type ReservationState,
  registrationOf,
} from '../../../../src/scsi/pr/state.js';
import {
  A,
  B,
  C,
  D,
  key,
  nexus,
  ok,
  registered,
  req,
  reservedBy,
  SA,
  type SaCode,
  summary,
  TYPE,
  TYPES,
  type TypeName,
  ZERO,
} from './fixtures.js';

/** The whole decision for a command: the gate's Table 44 check, then the service action. */
function decide(state: ReservationState, r: PrOutRequest): PrResult | 'CONFLICT (gate)' {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x5f;
  cdb[1] = r.serviceAction;
  const rule = conflictRuleFor({ opcode: 0x5f, serviceAction: r.serviceAction, direction: 'out' }, cdb);
  if (reservationConflict(state, r.nexus, rule)) return 'CONFLICT (gate)';
  return persistentReserveOut(state, r);
}

const keyOf = (n: NexusIdentity) => (n === A ? key(0xa) : n === B ? key(0xb) : ZERO);

/** A well-formed request of each service action, as the named I_T nexus would send it. */
function typical(sa: SaCode, n: NexusIdentity, type: TypeName): PrOutRequest {
  const k = keyOf(n);
  switch (sa) {
    case SA.REGISTER:
      return req(sa, n, { key: k, serviceActionKey: key(0x77) });
    case SA.REGISTER_AND_IGNORE_EXISTING_KEY:
      return req(sa, n, { serviceActionKey: key(0x77) });
    case SA.RESERVE:
    case SA.RELEASE:
      return req(sa, n, { key: k, type: TYPE[type] });
    case SA.CLEAR:
      return req(sa, n, { key: k });
    case SA.PREEMPT:
    case SA.PREEMPT_AND_ABORT:
      // Preempt the holder A (for the all-registrants types: SARK 0 preempts the reservation).
      return req(sa, n, {
        key: k,
        serviceActionKey: type.endsWith('_AR') ? ZERO : key(0xa),
        type: TYPE.EA,
      });
    case SA.REGISTER_AND_MOVE:
      return req(sa, n, {
        key: k,
        serviceActionKey: key(0xd),
        relativePortId: 1,
        transportIds: [{ name: D.initiator, isid: D.isid, offset: 24 }],
      });
  }
}

type Outcome = 'GOOD' | 'CONFLICT' | 'CHECK';

/**
 * Expected outcomes, from SPC-4 Table 44 (a not registered I_T nexus: REGISTER and REGISTER AND
 * IGNORE EXISTING KEY allowed, every other service action conflicts; a registered non-holder:
 * RESERVE and REGISTER AND MOVE conflict) and the service action clauses: RELEASE by a
 * non-holder is GOOD and does nothing (5.13.11.2); the holder may RESERVE again with the same
 * type (5.13.9); only the holder of a single-holder reservation may REGISTER AND MOVE (5.13.8).
 * Under all-registrants types every registrant is a holder (5.13.10).
 */
const EXPECTED: Record<
  SaCode,
  (type: TypeName) => { holder: Outcome; registered: Outcome; notRegistered: Outcome }
> = {
  [SA.REGISTER]: () => ({ holder: 'GOOD', registered: 'GOOD', notRegistered: 'GOOD' }),
  [SA.REGISTER_AND_IGNORE_EXISTING_KEY]: () => ({
    holder: 'GOOD',
    registered: 'GOOD',
    notRegistered: 'GOOD',
  }),
  [SA.RESERVE]: (t) => ({
    holder: 'GOOD',
    registered: t.endsWith('_AR') ? 'GOOD' : 'CONFLICT',
    notRegistered: 'CONFLICT',
  }),
  [SA.RELEASE]: () => ({ holder: 'GOOD', registered: 'GOOD', notRegistered: 'CONFLICT' }),
  [SA.CLEAR]: () => ({ holder: 'GOOD', registered: 'GOOD', notRegistered: 'CONFLICT' }),
  [SA.PREEMPT]: () => ({ holder: 'GOOD', registered: 'GOOD', notRegistered: 'CONFLICT' }),
  [SA.PREEMPT_AND_ABORT]: () => ({ holder: 'GOOD', registered: 'GOOD', notRegistered: 'CONFLICT' }),
  [SA.REGISTER_AND_MOVE]: (t) => ({
    holder: t.endsWith('_AR') ? 'CONFLICT' : 'GOOD',
    registered: 'CONFLICT',
    notRegistered: 'CONFLICT',
  }),
};

function outcomeOf(d: PrResult | 'CONFLICT (gate)'): Outcome {
  if (d === 'CONFLICT (gate)') return 'CONFLICT';
  const s = summary(d);
  return s.startsWith('CHECK') ? 'CHECK' : (s as Outcome);
}

describe('PERSISTENT RESERVE OUT: service action × reservation type × I_T nexus', () => {
  for (const type of TYPES) {
    for (const [saName, sa] of Object.entries(SA)) {
      it(`${saName} under ${type}`, () => {
        const state = reservedBy(type);
        const exp = EXPECTED[sa](type);
        for (const [role, n] of [
          ['holder', A],
          ['registered', B],
          ['notRegistered', C],
        ] as const) {
          const r = typical(sa, n, type);
          const d = decide(state, r);
          expect(outcomeOf(d), `${role}`).toBe(exp[role]);
          // The service action rules agree with the gate: a command that would have passed it
          // (e.g. forwarded from a node with an older state) still gets the same answer.
          expect(outcomeOf(persistentReserveOut(state, r)), `${role}, without the gate`).toBe(exp[role]);
        }
      });
    }
  }

  it('with no reservation: RESERVE, RELEASE, CLEAR, PREEMPT work for registrants; REGISTER AND MOVE conflicts', () => {
    const s = registered([A, key(0xa)], [B, key(0xb)]);
    expect(summary(persistentReserveOut(s, req(SA.RESERVE, A, { key: key(0xa), type: TYPE.WE })))).toBe(
      'GOOD',
    );
    expect(summary(persistentReserveOut(s, req(SA.RELEASE, A, { key: key(0xa), type: TYPE.WE })))).toBe(
      'GOOD',
    );
    expect(summary(persistentReserveOut(s, req(SA.CLEAR, A, { key: key(0xa) })))).toBe('GOOD');
    expect(
      summary(persistentReserveOut(s, req(SA.PREEMPT, A, { key: key(0xa), serviceActionKey: key(0xb) }))),
    ).toBe('GOOD');
    expect(summary(persistentReserveOut(s, typical(SA.REGISTER_AND_MOVE, A, 'WE')))).toBe('CONFLICT');
    expect(summary(persistentReserveOut(s, req(SA.RESERVE, C, { type: TYPE.WE })))).toBe('CONFLICT');
  });
});

describe('REGISTER and REGISTER AND IGNORE EXISTING KEY (SPC-4 5.13.7, Tables 46 and 47)', () => {
  it('registers, changes the key, unregisters; each success bumps PRgeneration', () => {
    let s = ok(EMPTY_STATE, req(SA.REGISTER, A, { serviceActionKey: key(1) }));
    expect(s.generation).toBe(1);
    expect(registrationOf(s, A)?.key).toBe(key(1));
    s = ok(s, req(SA.REGISTER, A, { key: key(1), serviceActionKey: key(2) }));
    expect(s.generation).toBe(2);
    expect(registrationOf(s, A)?.key).toBe(key(2));
    s = ok(s, req(SA.REGISTER, A, { key: key(2), serviceActionKey: ZERO }));
    expect(s.generation).toBe(3);
    expect(s.registrations).toEqual([]);
  });

  it('an unregistered I_T nexus with a non-zero RESERVATION KEY conflicts', () => {
    const r = persistentReserveOut(
      EMPTY_STATE,
      req(SA.REGISTER, A, { key: key(5), serviceActionKey: key(1) }),
    );
    expect(summary(r)).toBe('CONFLICT');
    expect(r.state).toBe(EMPTY_STATE);
  });

  it('a registered I_T nexus with the wrong RESERVATION KEY conflicts; IGNORE EXISTING KEY does not', () => {
    const s = registered([A, key(1)]);
    expect(
      summary(persistentReserveOut(s, req(SA.REGISTER, A, { key: key(9), serviceActionKey: key(2) }))),
    ).toBe('CONFLICT');
    const r = persistentReserveOut(
      s,
      req(SA.REGISTER_AND_IGNORE_EXISTING_KEY, A, { key: key(9), serviceActionKey: key(2) }),
    );
    expect(summary(r)).toBe('GOOD');
    expect(registrationOf(r.state, A)?.key).toBe(key(2));
  });

  it('unregistered with SERVICE ACTION RESERVATION KEY zero: GOOD, nothing changes', () => {
    for (const sa of [SA.REGISTER, SA.REGISTER_AND_IGNORE_EXISTING_KEY] as const) {
      const r = persistentReserveOut(EMPTY_STATE, req(sa, A));
      expect(summary(r)).toBe('GOOD');
      expect(r.state).toBe(EMPTY_STATE);
    }
  });

  it('each I_T nexus has its own registration; the same key may be used by several', () => {
    const s = registered([A, key(1)], [B, key(1)], [nexus(A.initiator, '400001370099'), key(1)]);
    expect(s.registrations).toHaveLength(3);
    const data = persistentReserveIn(s, 0);
    expect(data.readUInt32BE(4)).toBe(24);
  });

  it('the same initiator port through another target port is another I_T nexus', () => {
    const A2 = { ...A, relativePortId: 2 };
    const s = registered([A, key(1)]);
    expect(registrationOf(s, A2)).toBeUndefined();
    expect(summary(persistentReserveOut(s, req(SA.RESERVE, A2, { key: key(1), type: TYPE.WE })))).toBe(
      'CONFLICT',
    );
  });

  it('ALL_TG_PT registers the initiator port on every target port', () => {
    const s = ok(EMPTY_STATE, req(SA.REGISTER, A, { serviceActionKey: key(1), allTgPt: true }));
    expect(registrationOf(s, { ...A, relativePortId: 7 })?.key).toBe(key(1));
    expect(registrationOf(s, { ...A, isid: '400001370077' })).toBeUndefined();
  });

  it('a registration through one target port stays its own under a later ALL_TG_PT registration', () => {
    const A2 = { ...A, relativePortId: 2 };
    let s = registered([A2, key(2)]);
    s = ok(s, req(SA.REGISTER, A, { serviceActionKey: key(1), allTgPt: true }));
    expect(registrationOf(s, A2)?.key).toBe(key(2));
    expect(registrationOf(s, { ...A, relativePortId: 3 })?.key).toBe(key(1));
  });

  it('APTPL is the value of the last successful register service action', () => {
    let s = ok(EMPTY_STATE, req(SA.REGISTER, A, { serviceActionKey: key(1), aptpl: true }));
    expect(s.aptpl).toBe(true);
    s = ok(s, req(SA.REGISTER, B, { serviceActionKey: key(2) }));
    expect(s.aptpl).toBe(false);
    // A failed command does not change it.
    const r = persistentReserveOut(
      s,
      req(SA.REGISTER, A, { key: key(9), serviceActionKey: key(3), aptpl: true }),
    );
    expect(r.state.aptpl).toBe(false);
  });

  it('SPEC_I_PT registers the listed I_T nexuses on the same target port with the same key', () => {
    const s = ok(
      EMPTY_STATE,
      req(SA.REGISTER, A, {
        serviceActionKey: key(1),
        specIPt: true,
        transportIds: [
          { name: B.initiator, isid: B.isid, offset: 28 },
          { name: C.initiator, isid: null, offset: 60 },
        ],
      }),
    );
    expect(s.registrations.map((r) => [r.initiator, r.isid, r.key])).toEqual([
      [A.initiator, A.isid, key(1)],
      [B.initiator, B.isid, key(1)],
      [C.initiator, null, key(1)],
    ]);
    expect(s.generation).toBe(1);
    // Format 00b names the initiator device: every one of its ports.
    expect(registrationOf(s, { ...C, isid: '123456789abc' })?.key).toBe(key(1));
    expect(registrationOf(s, { ...B, relativePortId: 2 })).toBeUndefined();
  });

  it('SPEC_I_PT naming an I_T nexus that is already registered fails as a whole', () => {
    const s = registered([B, key(2)]);
    const r = persistentReserveOut(
      s,
      req(SA.REGISTER, A, {
        serviceActionKey: key(1),
        specIPt: true,
        transportIds: [
          { name: C.initiator, isid: C.isid, offset: 28 },
          { name: B.initiator, isid: B.isid, offset: 60 },
        ],
      }),
    );
    expect(summary(r)).toBe('CHECK INVALID_FIELD_IN_PARAMETER_LIST');
    expect(r.outcome.sense?.field).toEqual({ inCdb: false, byte: 60 });
    expect(r.state).toBe(s);
  });

  it('SPEC_I_PT from a registered I_T nexus is INVALID FIELD IN CDB (Table 47)', () => {
    const s = registered([A, key(1)]);
    const r = persistentReserveOut(
      s,
      req(SA.REGISTER, A, { key: key(1), serviceActionKey: key(2), specIPt: true, transportIds: [] }),
    );
    expect(summary(r)).toBe('CHECK INVALID_FIELD_IN_CDB');
  });

  it(`more than ${MAX_REGISTRATIONS} registrations: INSUFFICIENT REGISTRATION RESOURCES`, () => {
    let s = EMPTY_STATE;
    for (let i = 0; i < MAX_REGISTRATIONS; i++) {
      s = ok(s, req(SA.REGISTER, nexus(`iqn.2026-01.test:n${i}`), { serviceActionKey: key(i + 1) }));
    }
    const r = persistentReserveOut(s, req(SA.REGISTER, A, { serviceActionKey: key(1) }));
    expect(summary(r)).toBe('CHECK INSUFFICIENT_REGISTRATION_RESOURCES');
  });

  it('PRgeneration wraps at 2^32', () => {
    const s = { ...EMPTY_STATE, generation: 0xffffffff };
    expect(ok(s, req(SA.REGISTER, A, { serviceActionKey: key(1) })).generation).toBe(0);
  });

  it('RESERVE and RELEASE do not bump PRgeneration (SPC-4 6.15.2)', () => {
    let s = registered([A, key(1)]);
    const g = s.generation;
    s = ok(s, req(SA.RESERVE, A, { key: key(1), type: TYPE.WE }));
    s = ok(s, req(SA.RELEASE, A, { key: key(1), type: TYPE.WE }));
    expect(s.generation).toBe(g);
  });
});

describe('losing the holder (SPC-4 5.13.11.3)', () => {
  for (const type of TYPES) {
    it(`${type}: the holder unregisters`, () => {
      const s = reservedBy(type);
      const r = persistentReserveOut(s, req(SA.REGISTER, A, { key: key(0xa) }));
      expect(summary(r)).toBe('GOOD');
      if (type.endsWith('_AR')) {
        // All registrants: the reservation stays while any registrant does.
        expect(r.state.reservation?.type).toBe(TYPE[type]);
        const last = ok(r.state, req(SA.REGISTER, B, { key: key(0xb) }));
        expect(last.reservation).toBeNull();
      } else {
        expect(r.state.reservation).toBeNull();
      }
      const released = r.unitAttentions.filter((u) => u.reason === 'RESERVATIONS_RELEASED');
      if (type.endsWith('_RO')) {
        expect(released.map((u) => u.nexus.initiator)).toEqual([B.initiator]);
      } else {
        expect(released).toEqual([]);
      }
    });
  }

  it('the holder changing its key keeps the reservation, now reported with the new key', () => {
    let s = reservedBy('WE');
    s = ok(s, req(SA.REGISTER, A, { key: key(0xa), serviceActionKey: key(0xaa) }));
    expect(s.reservation?.type).toBe(TYPE.WE);
    expect(persistentReserveIn(s, 1).subarray(8, 16).toString('hex')).toBe(key(0xaa));
  });
});

describe('RESERVE (SPC-4 5.13.9)', () => {
  it('the holder asking again for the same type: GOOD; for another type: conflict', () => {
    const s = reservedBy('WE');
    const same = persistentReserveOut(s, req(SA.RESERVE, A, { key: key(0xa), type: TYPE.WE }));
    expect(summary(same)).toBe('GOOD');
    expect(same.state).toBe(s);
    expect(summary(persistentReserveOut(s, req(SA.RESERVE, A, { key: key(0xa), type: TYPE.EA })))).toBe(
      'CONFLICT',
    );
  });

  it('the wrong RESERVATION KEY conflicts', () => {
    const s = registered([A, key(1)]);
    expect(summary(persistentReserveOut(s, req(SA.RESERVE, A, { key: key(2), type: TYPE.WE })))).toBe(
      'CONFLICT',
    );
  });

  it('invalid TYPE or SCOPE: INVALID FIELD IN CDB', () => {
    const s = registered([A, key(1)]);
    for (const type of [0, 2, 4, 9, 15]) {
      const r = persistentReserveOut(s, req(SA.RESERVE, A, { key: key(1), type }));
      expect(summary(r), `type ${type}`).toBe('CHECK INVALID_FIELD_IN_CDB');
      expect(r.outcome.sense?.field).toEqual({ inCdb: true, byte: 2, bit: 3 });
    }
    const r = persistentReserveOut(s, req(SA.RESERVE, A, { key: key(1), type: TYPE.WE, scope: 1 }));
    expect(r.outcome.sense?.field).toEqual({ inCdb: true, byte: 2, bit: 7 });
  });

  it('an all-registrants reservation is held by every registrant, the key reported as zero', () => {
    const s = reservedBy('WE_AR');
    expect(persistentReserveIn(s, 1).subarray(8, 16).toString('hex')).toBe(ZERO);
    const again = persistentReserveOut(s, req(SA.RESERVE, B, { key: key(0xb), type: TYPE.WE_AR }));
    expect(summary(again)).toBe('GOOD');
  });
});

describe('RELEASE (SPC-4 5.13.11.2)', () => {
  it('a type that differs from the reservation: INVALID RELEASE OF PERSISTENT RESERVATION', () => {
    const s = reservedBy('WE');
    const r = persistentReserveOut(s, req(SA.RELEASE, A, { key: key(0xa), type: TYPE.EA }));
    expect(summary(r)).toBe('CHECK INVALID_RELEASE_OF_PERSISTENT_RESERVATION');
    expect(r.state).toBe(s);
  });

  it('a non-holder release is GOOD and releases nothing', () => {
    const s = reservedBy('EA');
    const r = persistentReserveOut(s, req(SA.RELEASE, B, { key: key(0xb), type: TYPE.EA }));
    expect(summary(r)).toBe('GOOD');
    expect(r.state).toBe(s);
  });

  for (const type of TYPES) {
    it(`${type}: RESERVATIONS RELEASED for the other registrants only for RO and AR types`, () => {
      const s = reservedBy(type);
      const r = persistentReserveOut(s, req(SA.RELEASE, A, { key: key(0xa), type: TYPE[type] }));
      expect(r.state.reservation).toBeNull();
      expect(r.state.registrations).toEqual(s.registrations);
      const uas = r.unitAttentions.map((u) => [u.reason, u.nexus.initiator, u.except?.initiator]);
      if (type === 'WE' || type === 'EA') expect(uas).toEqual([]);
      else {
        expect(uas).toEqual([
          ['RESERVATIONS_RELEASED', A.initiator, A.initiator],
          ['RESERVATIONS_RELEASED', B.initiator, A.initiator],
        ]);
      }
    });
  }
});

describe('CLEAR (SPC-4 5.13.11.5)', () => {
  it('removes every registration and the reservation; RESERVATIONS PREEMPTED for the others', () => {
    const s = reservedBy('EA_RO');
    const r = persistentReserveOut(s, req(SA.CLEAR, B, { key: key(0xb) }));
    expect(r.state.registrations).toEqual([]);
    expect(r.state.reservation).toBeNull();
    expect(r.state.generation).toBe(s.generation + 1);
    expect(r.unitAttentions.map((u) => [u.reason, u.nexus.initiator, u.except])).toEqual([
      ['RESERVATIONS_PREEMPTED', A.initiator, B],
      ['RESERVATIONS_PREEMPTED', B.initiator, B],
    ]);
  });

  it('the wrong key conflicts', () => {
    expect(summary(persistentReserveOut(reservedBy('WE'), req(SA.CLEAR, B, { key: key(0xa) })))).toBe(
      'CONFLICT',
    );
  });
});

describe('PREEMPT and PREEMPT AND ABORT (SPC-4 5.13.11.4)', () => {
  it('no reservation: removes the registrations with the key, REGISTRATIONS PREEMPTED, generation + 1', () => {
    const s = registered([A, key(1)], [B, key(2)], [C, key(2)]);
    const r = persistentReserveOut(
      s,
      req(SA.PREEMPT, A, { key: key(1), serviceActionKey: key(2), type: 0xf }),
    );
    expect(summary(r)).toBe('GOOD');
    expect(r.state.registrations.map((x) => x.initiator)).toEqual([A.initiator]);
    expect(r.state.generation).toBe(s.generation + 1);
    expect(r.unitAttentions.map((u) => [u.reason, u.nexus.initiator])).toEqual([
      ['REGISTRATIONS_PREEMPTED', B.initiator],
      ['REGISTRATIONS_PREEMPTED', C.initiator],
    ]);
    expect(r.abort).toEqual([]);
  });

  it('a key that matches no registration conflicts', () => {
    const s = registered([A, key(1)]);
    expect(
      summary(persistentReserveOut(s, req(SA.PREEMPT, A, { key: key(1), serviceActionKey: key(7) }))),
    ).toBe('CONFLICT');
  });

  it('SERVICE ACTION RESERVATION KEY zero without an all-registrants reservation: INVALID FIELD IN PARAMETER LIST', () => {
    for (const s of [registered([A, key(0xa)]), reservedBy('WE')]) {
      const who = s.reservation ? B : A;
      const r = persistentReserveOut(s, req(SA.PREEMPT, who, { key: keyOf(who) }));
      expect(summary(r)).toBe('CHECK INVALID_FIELD_IN_PARAMETER_LIST');
      expect(r.outcome.sense?.field).toEqual({ inCdb: false, byte: 8 });
    }
  });

  it('preempting the holder: the issuer holds a reservation of the new type; the holder loses its registration', () => {
    const s = reservedBy('WE');
    const r = persistentReserveOut(
      s,
      req(SA.PREEMPT, B, { key: key(0xb), serviceActionKey: key(0xa), type: TYPE.EA }),
    );
    expect(summary(r)).toBe('GOOD');
    expect(r.state.reservation).toEqual({ holder: B, type: TYPE.EA, scope: 0 });
    expect(r.state.registrations.map((x) => x.initiator)).toEqual([B.initiator]);
    // The issuer's own registration is listed with itself excepted: its other I_T nexuses
    // (ALL_TG_PT) are told too.
    expect(r.unitAttentions.map((u) => [u.reason, u.nexus.initiator, u.except?.initiator])).toEqual([
      ['REGISTRATIONS_PREEMPTED', A.initiator, B.initiator],
      ['RESERVATIONS_RELEASED', B.initiator, B.initiator],
    ]);
  });

  it('the type changes: RESERVATIONS RELEASED for the registrants that remain', () => {
    let s = reservedBy('WE');
    s = ok(s, req(SA.REGISTER, C, { serviceActionKey: key(0xc) }));
    const r = persistentReserveOut(
      s,
      req(SA.PREEMPT, B, { key: key(0xb), serviceActionKey: key(0xa), type: TYPE.EA }),
    );
    expect(r.unitAttentions.map((u) => [u.reason, u.nexus.initiator, u.except?.initiator])).toEqual([
      ['REGISTRATIONS_PREEMPTED', A.initiator, B.initiator],
      ['RESERVATIONS_RELEASED', B.initiator, B.initiator],
      ['RESERVATIONS_RELEASED', C.initiator, B.initiator],
    ]);
    // The same type: no RESERVATIONS RELEASED.
    const same = persistentReserveOut(
      s,
      req(SA.PREEMPT, B, { key: key(0xb), serviceActionKey: key(0xa), type: TYPE.WE }),
    );
    expect(same.unitAttentions.map((u) => u.reason)).toEqual(['REGISTRATIONS_PREEMPTED']);
  });

  it('the holder preempting itself changes the type and keeps its registration', () => {
    const s = reservedBy('WE');
    const r = persistentReserveOut(
      s,
      req(SA.PREEMPT, A, { key: key(0xa), serviceActionKey: key(0xa), type: TYPE.EA }),
    );
    expect(r.state.reservation).toEqual({ holder: A, type: TYPE.EA, scope: 0 });
    expect(r.state.registrations.map((x) => x.initiator)).toEqual([A.initiator, B.initiator]);
  });

  it('all registrants with SARK zero: every other registration goes, the issuer holds the new reservation', () => {
    let s = reservedBy('EA_AR');
    s = ok(s, req(SA.REGISTER, C, { serviceActionKey: key(0xc) }));
    const r = persistentReserveOut(s, req(SA.PREEMPT_AND_ABORT, B, { key: key(0xb), type: TYPE.WE_RO }));
    expect(summary(r)).toBe('GOOD');
    expect(r.state.registrations.map((x) => x.initiator)).toEqual([B.initiator]);
    expect(r.state.reservation).toEqual({ holder: B, type: TYPE.WE_RO, scope: 0 });
    expect(r.abort.map((m) => m.initiator)).toEqual([A.initiator, C.initiator]);
  });

  it('all registrants with a non-zero key: only those registrations go; the reservation stays', () => {
    const s = reservedBy('WE_AR');
    const r = persistentReserveOut(
      s,
      req(SA.PREEMPT, B, { key: key(0xb), serviceActionKey: key(0xa), type: TYPE.EA }),
    );
    expect(summary(r)).toBe('GOOD');
    expect(r.state.reservation?.type).toBe(TYPE.WE_AR);
    expect(r.state.registrations.map((x) => x.initiator)).toEqual([B.initiator]);
  });

  it('PREEMPT AND ABORT lists the preempted I_T nexuses for the task abort; PREEMPT does not', () => {
    const s = reservedBy('WE');
    const paa = persistentReserveOut(
      s,
      req(SA.PREEMPT_AND_ABORT, B, { key: key(0xb), serviceActionKey: key(0xa), type: TYPE.WE }),
    );
    expect(paa.abort.map((m) => m.initiator)).toEqual([A.initiator]);
    const p = persistentReserveOut(
      s,
      req(SA.PREEMPT, B, { key: key(0xb), serviceActionKey: key(0xa), type: TYPE.WE }),
    );
    expect(p.abort).toEqual([]);
  });

  it('an invalid TYPE when the reservation is preempted: INVALID FIELD IN CDB, nothing changes', () => {
    const s = reservedBy('WE');
    const r = persistentReserveOut(
      s,
      req(SA.PREEMPT, B, { key: key(0xb), serviceActionKey: key(0xa), type: 2 }),
    );
    expect(summary(r)).toBe('CHECK INVALID_FIELD_IN_CDB');
    expect(r.state).toBe(s);
  });
});

describe('REGISTER AND MOVE (SPC-4 5.13.8)', () => {
  it('moves the reservation to a new I_T nexus, registering it with the service action key', () => {
    const s = reservedBy('EA');
    const r = persistentReserveOut(s, typical(SA.REGISTER_AND_MOVE, A, 'EA'));
    expect(summary(r)).toBe('GOOD');
    expect(r.state.reservation).toEqual({ holder: D, type: TYPE.EA, scope: 0 });
    expect(registrationOf(r.state, D)?.key).toBe(key(0xd));
    expect(registrationOf(r.state, A)?.key).toBe(key(0xa));
    expect(r.state.generation).toBe(s.generation + 1);
  });

  it('UNREG removes the issuer; APTPL comes from the parameter list', () => {
    const s = reservedBy('WE');
    const r = persistentReserveOut(s, {
      ...typical(SA.REGISTER_AND_MOVE, A, 'WE'),
      unreg: true,
      aptpl: true,
    });
    expect(registrationOf(r.state, A)).toBeUndefined();
    expect(r.state.aptpl).toBe(true);
  });

  it('to an I_T nexus that is already registered: its key stays', () => {
    const s = reservedBy('WE');
    const r = persistentReserveOut(s, {
      ...typical(SA.REGISTER_AND_MOVE, A, 'WE'),
      transportIds: [{ name: B.initiator, isid: B.isid, offset: 24 }],
    });
    expect(r.state.reservation?.holder).toEqual(B);
    expect(registrationOf(r.state, B)?.key).toBe(key(0xb));
  });

  it('to itself, to a device name without ISID, to port 0, or with SARK zero: INVALID FIELD IN PARAMETER LIST', () => {
    const s = reservedBy('WE');
    const base = typical(SA.REGISTER_AND_MOVE, A, 'WE');
    const cases: [Partial<PrOutRequest>, number][] = [
      [{ transportIds: [{ name: A.initiator, isid: A.isid, offset: 24 }] }, 24],
      [{ transportIds: [{ name: D.initiator, isid: null, offset: 24 }] }, 24],
      [{ relativePortId: 0 }, 18],
      [{ serviceActionKey: ZERO }, 8],
    ];
    for (const [patch, byte] of cases) {
      const r = persistentReserveOut(s, { ...base, ...patch });
      expect(summary(r)).toBe('CHECK INVALID_FIELD_IN_PARAMETER_LIST');
      expect(r.outcome.sense?.field).toEqual({ inCdb: false, byte });
    }
  });
});
