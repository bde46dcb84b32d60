// The reservation-conflict table against SPC-4 5.13.1 Table 43 (SPC commands), SBC-3 4.17 Table 13
// (block commands) and the SPC-2 RESERVE rules with the SPC-4 5.13.3 exceptions, transcribed here
// column by column from the standards. Every reservation type × {holder, registered, not
// registered} I_T nexus is checked for every transcribed command.
import { describe, expect, it } from 'vitest';
import { createOpcodeTable } from '../../../../src/scsi/commands.js';
import {
  type CommandShape,
  conflictRuleFor,
  reservationConflict,
} from '../../../../src/scsi/pr/conflict-table.js';
import { spc2Reserve } from '../../../../src/scsi/pr/spc2.js';
import { EMPTY_STATE, type NexusIdentity, type ReservationState } from '../../../../src/scsi/pr/state.js';
import { Status } from '../../../helpers/wire.js';
import { A, B, C, key, registered, reservedBy, SA, TYPES, type TypeName } from './fixtures.js';

type L = 'A' | 'C';
/**
 * Columns as SPC-4 Table 43 prints them: Write Exclusive, Exclusive Access (from any I_T nexus);
 * WE-RO/WE-AR and EA-RO/EA-AR from a registered I_T nexus; the same from a not registered one.
 * Last: under an SPC-2 reservation held by another I_T nexus.
 */
interface Row {
  name: string;
  cdb: number[];
  columns: `${L}${L} ${L}${L} ${L}${L}`;
  spc2: L;
}

const cdb16 = (op: number, b1 = 0, extra: Record<number, number> = {}): number[] => {
  const b = new Array(16).fill(0);
  b[0] = op;
  b[1] = b1;
  for (const [i, v] of Object.entries(extra)) b[Number(i)] = v;
  return b;
};

const ROWS: Row[] = [
  // SPC-4 Table 43
  { name: 'ACCESS CONTROL IN', cdb: cdb16(0x86), columns: 'AA AA AA', spc2: 'C' },
  { name: 'ACCESS CONTROL OUT', cdb: cdb16(0x87), columns: 'AA AA AA', spc2: 'C' },
  { name: 'CHANGE ALIASES', cdb: cdb16(0xa4, 0x0b), columns: 'CC AA CC', spc2: 'C' },
  { name: 'EXTENDED COPY', cdb: cdb16(0x83), columns: 'CC AA CC', spc2: 'C' },
  { name: 'INQUIRY', cdb: cdb16(0x12), columns: 'AA AA AA', spc2: 'A' },
  { name: 'LOG SELECT', cdb: cdb16(0x4c), columns: 'CC AA CC', spc2: 'C' },
  { name: 'LOG SENSE', cdb: cdb16(0x4d), columns: 'AA AA AA', spc2: 'C' },
  { name: 'MANAGEMENT PROTOCOL IN', cdb: cdb16(0xa3, 0x10), columns: 'AC AA AC', spc2: 'C' },
  { name: 'MANAGEMENT PROTOCOL OUT', cdb: cdb16(0xa4, 0x10), columns: 'CC AA CC', spc2: 'C' },
  { name: 'MODE SELECT(6)', cdb: cdb16(0x15), columns: 'CC AA CC', spc2: 'C' },
  { name: 'MODE SELECT(10)', cdb: cdb16(0x55), columns: 'CC AA CC', spc2: 'C' },
  { name: 'MODE SENSE(6)', cdb: cdb16(0x1a), columns: 'AC AA AC', spc2: 'C' },
  { name: 'MODE SENSE(10)', cdb: cdb16(0x5a), columns: 'AC AA AC', spc2: 'C' },
  { name: 'PERSISTENT RESERVE IN', cdb: cdb16(0x5e), columns: 'AA AA AA', spc2: 'C' },
  { name: 'READ ATTRIBUTE', cdb: cdb16(0x8c), columns: 'AC AA AC', spc2: 'C' },
  { name: 'READ BUFFER', cdb: cdb16(0x3c), columns: 'AC AA AC', spc2: 'C' },
  { name: 'READ MEDIA SERIAL NUMBER', cdb: cdb16(0xab, 0x01), columns: 'AA AA AA', spc2: 'C' },
  { name: 'RECEIVE COPY RESULTS', cdb: cdb16(0x84), columns: 'AC AA AC', spc2: 'C' },
  { name: 'RECEIVE DIAGNOSTIC RESULTS', cdb: cdb16(0x1c), columns: 'AC AA AC', spc2: 'C' },
  { name: 'REPORT ALIASES', cdb: cdb16(0xa3, 0x0b), columns: 'AA AA AA', spc2: 'C' },
  { name: 'REPORT IDENTIFYING INFORMATION', cdb: cdb16(0xa3, 0x05), columns: 'AA AA AA', spc2: 'C' },
  { name: 'REPORT LUNS', cdb: cdb16(0xa0), columns: 'AA AA AA', spc2: 'A' },
  { name: 'REPORT PRIORITY', cdb: cdb16(0xa3, 0x0e), columns: 'AA AA AA', spc2: 'C' },
  { name: 'REPORT SUPPORTED OPERATION CODES', cdb: cdb16(0xa3, 0x0c), columns: 'AC AA AC', spc2: 'C' },
  {
    name: 'REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS',
    cdb: cdb16(0xa3, 0x0d),
    columns: 'AC AA AC',
    spc2: 'C',
  },
  { name: 'REPORT TARGET PORT GROUPS', cdb: cdb16(0xa3, 0x0a), columns: 'AA AA AA', spc2: 'A' },
  { name: 'REPORT TIMESTAMP', cdb: cdb16(0xa3, 0x0f), columns: 'AA AA AA', spc2: 'C' },
  { name: 'REQUEST SENSE', cdb: cdb16(0x03), columns: 'AA AA AA', spc2: 'A' },
  { name: 'SECURITY PROTOCOL IN', cdb: cdb16(0xa2), columns: 'AC AA AC', spc2: 'C' },
  { name: 'SECURITY PROTOCOL OUT', cdb: cdb16(0xb5), columns: 'CC AA CC', spc2: 'C' },
  { name: 'SEND DIAGNOSTIC', cdb: cdb16(0x1d), columns: 'CC AA CC', spc2: 'C' },
  { name: 'SET IDENTIFYING INFORMATION', cdb: cdb16(0xa4, 0x06), columns: 'CC AA CC', spc2: 'C' },
  { name: 'SET PRIORITY', cdb: cdb16(0xa4, 0x0e), columns: 'CC AA CC', spc2: 'C' },
  { name: 'SET TARGET PORT GROUPS', cdb: cdb16(0xa4, 0x0a), columns: 'CC AA CC', spc2: 'C' },
  { name: 'SET TIMESTAMP', cdb: cdb16(0xa4, 0x0f), columns: 'CC AA CC', spc2: 'C' },
  { name: 'TEST UNIT READY', cdb: cdb16(0x00), columns: 'AA AA AA', spc2: 'C' },
  { name: 'WRITE ATTRIBUTE', cdb: cdb16(0x8d), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE BUFFER', cdb: cdb16(0x3b), columns: 'CC AA CC', spc2: 'C' },
  // SBC-3 Table 13
  { name: 'COMPARE AND WRITE', cdb: cdb16(0x89), columns: 'CC AA CC', spc2: 'C' },
  { name: 'FORMAT UNIT', cdb: cdb16(0x04), columns: 'CC AA CC', spc2: 'C' },
  { name: 'GET LBA STATUS', cdb: cdb16(0x9e, 0x12), columns: 'AC AA AC', spc2: 'C' },
  { name: 'ORWRITE(16)', cdb: cdb16(0x8b), columns: 'CC AA CC', spc2: 'C' },
  { name: 'PRE-FETCH(10)', cdb: cdb16(0x34), columns: 'AC AA AC', spc2: 'C' },
  { name: 'PRE-FETCH(16)', cdb: cdb16(0x90), columns: 'AC AA AC', spc2: 'C' },
  { name: 'PREVENT ALLOW MEDIUM REMOVAL (PREVENT=0)', cdb: cdb16(0x1e), columns: 'AA AA AA', spc2: 'C' },
  {
    name: 'PREVENT ALLOW MEDIUM REMOVAL (PREVENT=1)',
    cdb: cdb16(0x1e, 0, { 4: 1 }),
    columns: 'CC AA CC',
    spc2: 'C',
  },
  { name: 'READ(6)', cdb: cdb16(0x08), columns: 'AC AA AC', spc2: 'C' },
  { name: 'READ(10)', cdb: cdb16(0x28), columns: 'AC AA AC', spc2: 'C' },
  { name: 'READ(12)', cdb: cdb16(0xa8), columns: 'AC AA AC', spc2: 'C' },
  { name: 'READ(16)', cdb: cdb16(0x88), columns: 'AC AA AC', spc2: 'C' },
  { name: 'READ CAPACITY(10)', cdb: cdb16(0x25), columns: 'AA AA AA', spc2: 'C' },
  { name: 'READ CAPACITY(16)', cdb: cdb16(0x9e, 0x10), columns: 'AA AA AA', spc2: 'C' },
  { name: 'READ DEFECT DATA(10)', cdb: cdb16(0x37), columns: 'AC AA AC', spc2: 'C' },
  { name: 'READ DEFECT DATA(12)', cdb: cdb16(0xb7), columns: 'AC AA AC', spc2: 'C' },
  { name: 'READ LONG(10)', cdb: cdb16(0x3e), columns: 'AC AA AC', spc2: 'C' },
  { name: 'READ LONG(16)', cdb: cdb16(0x9e, 0x11), columns: 'AC AA AC', spc2: 'C' },
  { name: 'REASSIGN BLOCKS', cdb: cdb16(0x07), columns: 'CC AA CC', spc2: 'C' },
  { name: 'SANITIZE', cdb: cdb16(0x48), columns: 'CC AA CC', spc2: 'C' },
  { name: 'START STOP UNIT (START=1)', cdb: cdb16(0x1b, 0, { 4: 0x01 }), columns: 'AA AA AA', spc2: 'C' },
  { name: 'START STOP UNIT (START=0)', cdb: cdb16(0x1b), columns: 'CC AA CC', spc2: 'C' },
  {
    name: 'START STOP UNIT (POWER CONDITION)',
    cdb: cdb16(0x1b, 0, { 4: 0x31 }),
    columns: 'CC AA CC',
    spc2: 'C',
  },
  { name: 'SYNCHRONIZE CACHE(10)', cdb: cdb16(0x35), columns: 'CC AA CC', spc2: 'C' },
  { name: 'SYNCHRONIZE CACHE(16)', cdb: cdb16(0x91), columns: 'CC AA CC', spc2: 'C' },
  { name: 'UNMAP', cdb: cdb16(0x42), columns: 'CC AA CC', spc2: 'C' },
  { name: 'VERIFY(10)', cdb: cdb16(0x2f), columns: 'AC AA AC', spc2: 'C' },
  { name: 'VERIFY(12)', cdb: cdb16(0xaf), columns: 'AC AA AC', spc2: 'C' },
  { name: 'VERIFY(16)', cdb: cdb16(0x8f), columns: 'AC AA AC', spc2: 'C' },
  { name: 'WRITE(6)', cdb: cdb16(0x0a), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE(10)', cdb: cdb16(0x2a), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE(12)', cdb: cdb16(0xaa), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE(16)', cdb: cdb16(0x8a), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE AND VERIFY(10)', cdb: cdb16(0x2e), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE AND VERIFY(12)', cdb: cdb16(0xae), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE AND VERIFY(16)', cdb: cdb16(0x8e), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE LONG(10)', cdb: cdb16(0x3f), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE LONG(16)', cdb: cdb16(0x9f, 0x11), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE SAME(10)', cdb: cdb16(0x41), columns: 'CC AA CC', spc2: 'C' },
  { name: 'WRITE SAME(16)', cdb: cdb16(0x93), columns: 'CC AA CC', spc2: 'C' },
];

const table = createOpcodeTable();

/** The row the gate would read: the engine's own when it supports the command. */
function shapeOf(cdb: Buffer): CommandShape {
  const row = table.lookup(cdb);
  if (typeof row !== 'string') return row;
  const usesSa = [0x9e, 0x9f, 0xa3, 0xa4, 0xab, 0x5e, 0x5f].includes(cdb[0]!);
  return usesSa
    ? { opcode: cdb[0]!, serviceAction: cdb[1]! & 0x1f, direction: 'none' }
    : { opcode: cdb[0]!, direction: 'none' };
}

function conflict(state: ReservationState, n: NexusIdentity, cdb: Buffer): boolean {
  return reservationConflict(state, n, conflictRuleFor(shapeOf(cdb), cdb));
}

/** Expected letter for a caller that does not hold the reservation. */
function expected(row: Row, type: TypeName, isRegistered: boolean): L {
  const c = row.columns.replaceAll(' ', '');
  switch (type) {
    case 'WE':
      return c[0] as L;
    case 'EA':
      return c[1] as L;
    case 'WE_RO':
    case 'WE_AR':
      return (isRegistered ? c[2] : c[4]) as L;
    case 'EA_RO':
    case 'EA_AR':
      return (isRegistered ? c[3] : c[5]) as L;
  }
}

describe('reservation conflicts: SPC-4 Table 43 and SBC-3 Table 13', () => {
  for (const type of TYPES) {
    describe(`persistent reservation ${type} held by A`, () => {
      const state = reservedBy(type);
      for (const row of ROWS) {
        it(row.name, () => {
          const cdb = Buffer.from(row.cdb);
          expect(conflict(state, A, cdb), 'holder').toBe(false);
          // Under an all-registrants type every registrant is a holder.
          const regExpect = type.endsWith('_AR') ? 'A' : expected(row, type, true);
          expect(conflict(state, B, cdb) ? 'C' : 'A', 'registered I_T nexus').toBe(regExpect);
          expect(conflict(state, C, cdb) ? 'C' : 'A', 'not registered I_T nexus').toBe(
            expected(row, type, false),
          );
        });
      }
    });
  }

  it('registrations without a reservation conflict with nothing but RESERVE/RELEASE(6/10)', () => {
    const state = registered([A, key(1)]);
    for (const row of ROWS) expect(conflict(state, C, Buffer.from(row.cdb)), row.name).toBe(false);
    for (const op of [0x16, 0x17, 0x56, 0x57]) {
      // SPC-4 5.13.3: RESERVE and RELEASE conflict while any I_T nexus is registered, even for it.
      expect(conflict(state, A, Buffer.from(cdb16(op))), op.toString(16)).toBe(true);
      expect(conflict(state, C, Buffer.from(cdb16(op))), op.toString(16)).toBe(true);
    }
  });

  it('an LU without reservations conflicts with nothing', () => {
    for (const row of ROWS) expect(conflict(EMPTY_STATE, C, Buffer.from(row.cdb)), row.name).toBe(false);
  });
});

describe('reservation conflicts: SPC-2 RESERVE(6/10)', () => {
  const state = spc2Reserve(EMPTY_STATE, A).state;

  for (const row of ROWS) {
    it(row.name, () => {
      const cdb = Buffer.from(row.cdb);
      const isPr = cdb[0] === 0x5e;
      // SPC-4 5.13.3: PERSISTENT RESERVE IN/OUT conflict with any RESERVE, even for its holder.
      expect(conflict(state, A, cdb), 'holder').toBe(isPr);
      expect(conflict(state, B, cdb) ? 'C' : 'A', 'other I_T nexus').toBe(row.spc2);
    });
  }

  it('PERSISTENT RESERVE OUT conflicts for every service action and every I_T nexus', () => {
    for (const sa of Object.values(SA)) {
      for (const n of [A, B]) expect(conflict(state, n, Buffer.from(cdb16(0x5f, sa))), `SA ${sa}`).toBe(true);
    }
  });

  it('RELEASE from another I_T nexus passes the gate (it is a no-op, SPC-2 7.17); RESERVE does not', () => {
    expect(conflict(state, B, Buffer.from(cdb16(0x17)))).toBe(false);
    expect(conflict(state, B, Buffer.from(cdb16(0x57)))).toBe(false);
    expect(conflict(state, B, Buffer.from(cdb16(0x16)))).toBe(false);
    // The RESERVE handler answers the conflict itself (spc2Reserve).
    expect(spc2Reserve(state, B).outcome.status).toBe(Status.RESERVATION_CONFLICT);
  });
});

describe('the table covers the engine', () => {
  it('every supported command has the rule its transcription says, or the default of its row', () => {
    for (const row of table.rows()) {
      const cdb = Buffer.alloc(16);
      cdb[0] = row.opcode;
      if (row.serviceAction !== undefined) cdb[1] = row.serviceAction;
      const rule = conflictRuleFor(row, cdb);
      // PERSISTENT RESERVE IN and RECEIVE COPY RESULTS have one rule for all service actions.
      const anySa = row.opcode === 0x5e || row.opcode === 0x84;
      const t = ROWS.find(
        (r) =>
          r.cdb[0] === row.opcode &&
          (anySa || row.serviceAction === undefined || r.cdb[1] === row.serviceAction),
      );
      if (t) {
        const state = reservedBy('EA');
        const letter = conflict(state, C, Buffer.from(t.cdb)) ? 'C' : 'A';
        const own = reservationConflict(state, C, conflictRuleFor(row, Buffer.from(t.cdb)));
        expect(own ? 'C' : 'A', row.name).toBe(letter);
      }
      if (t || row.opcode === 0x5f || [0x16, 0x17, 0x56, 0x57].includes(row.opcode)) continue;
      // Not in the standard's tables: writes conflict like WRITE, the rest like READ.
      const writes = row.writesMedium || row.direction === 'out';
      expect(rule.writeExclusive.notRegistered, row.name).toBe(writes ? 'conflict' : 'allowed');
      expect(rule.exclusiveAccess.notRegistered, row.name).toBe('conflict');
    }
  });
});
