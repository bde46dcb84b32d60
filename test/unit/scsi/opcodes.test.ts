// Every operation code 0x00-0xFF through the gate: an unsupported one is CHECK CONDITION,
// ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (SPC-4 4.5.6, 20h/00h); a supported one
// reaches its handler (never 20h/00h), and the core commands complete GOOD given a minimal
// valid CDB. The opcode table decides which opcodes are supported, so adding a command does
// not break the sweep; the core list below must stay a subset of it.
import { beforeEach, describe, expect, it } from 'vitest';
import { createOpcodeTable } from '../../../src/scsi/commands.js';
import { cdb, Loopback } from '../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../helpers/wire.js';

// The core commands (SPC-4 / SBC-3), written out independently of src.
const CORE = new Map<number, { name: string; cdb: Buffer; dataOut?: Buffer }>([
  [0x00, { name: 'TEST UNIT READY', cdb: cdb.testUnitReady() }],
  [0x03, { name: 'REQUEST SENSE', cdb: cdb.requestSense(18) }],
  [0x08, { name: 'READ(6)', cdb: cdb.rw(0x08, 0, 1) }],
  [0x0a, { name: 'WRITE(6)', cdb: cdb.rw(0x0a, 0, 1), dataOut: Buffer.alloc(512) }],
  [0x12, { name: 'INQUIRY', cdb: cdb.inquiry(96) }],
  [0x1a, { name: 'MODE SENSE(6)', cdb: cdb.modeSense6({ page: 0x3f }) }],
  [0x25, { name: 'READ CAPACITY(10)', cdb: cdb.readCapacity10() }],
  [0x28, { name: 'READ(10)', cdb: cdb.rw(0x28, 0, 1) }],
  [0x2a, { name: 'WRITE(10)', cdb: cdb.rw(0x2a, 0, 1), dataOut: Buffer.alloc(512) }],
  [0x2f, { name: 'VERIFY(10)', cdb: cdb.rw(0x2f, 0, 1) }],
  [0x35, { name: 'SYNCHRONIZE CACHE(10)', cdb: cdb.rw(0x35, 0, 0) }],
  [0x5a, { name: 'MODE SENSE(10)', cdb: cdb.modeSense10({ page: 0x3f }) }],
  [0x88, { name: 'READ(16)', cdb: cdb.rw(0x88, 0, 1) }],
  [0x8a, { name: 'WRITE(16)', cdb: cdb.rw(0x8a, 0, 1), dataOut: Buffer.alloc(512) }],
  [0x8f, { name: 'VERIFY(16)', cdb: cdb.rw(0x8f, 0, 1) }],
  [0x91, { name: 'SYNCHRONIZE CACHE(16)', cdb: cdb.rw(0x91, 0, 0) }],
  [0x9e, { name: 'SERVICE ACTION IN(16) / READ CAPACITY(16)', cdb: cdb.readCapacity16() }],
  [0xa0, { name: 'REPORT LUNS', cdb: cdb.reportLuns(64) }],
  [0xa8, { name: 'READ(12)', cdb: cdb.rw(0xa8, 0, 1) }],
  [0xaa, { name: 'WRITE(12)', cdb: cdb.rw(0xaa, 0, 1), dataOut: Buffer.alloc(512) }],
  [0xaf, { name: 'VERIFY(12)', cdb: cdb.rw(0xaf, 0, 1) }],
]);

const ALL = Array.from({ length: 256 }, (_, op) => op);
const TABLE = createOpcodeTable();
const SUPPORTED = ALL.filter((op) => TABLE.hasOpcode(op));
const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

describe('operation code sweep', () => {
  let lo: Loopback;
  beforeEach(async () => {
    lo = new Loopback();
    await lo.ready();
  });

  it('every core command is in the opcode table', () => {
    expect([...CORE.keys()].filter((op) => !TABLE.hasOpcode(op)).map(hex)).toEqual([]);
  });

  it.each(ALL.filter((op) => !TABLE.hasOpcode(op)).map((op) => [hex(op), op]))(
    'unsupported opcode %s → CHECK CONDITION 05/20/00, no data',
    async (_h, op) => {
      const c = await lo.run({ cdb: Buffer.from([op, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) });
      expect(c.status).toBe(Status.CHECK_CONDITION);
      expect(kcq(c)).toBe('05/20/00');
      expect(decodeSense(c.sense!).format).toBe('fixed');
      expect(c.data).toBeUndefined();
      expect(c.transferLength).toBe(0);
    },
  );

  it.each([...CORE].map(([op, d]) => [hex(op), d.name, d] as const))(
    'core opcode %s (%s) dispatches and completes GOOD',
    async (_h, _name, d) => {
      const c = await lo.run(d.dataOut ? { cdb: d.cdb, dataOut: d.dataOut } : { cdb: d.cdb });
      expect(c.status, c.sense ? kcq(c) : '').toBe(Status.GOOD);
      expect(c.sense).toBeUndefined();
    },
  );

  it.each(SUPPORTED.map((op) => [hex(op), op]))(
    'supported opcode %s with an all-zero CDB is never "invalid operation code"',
    async (_h, op) => {
      const c = await lo.run({ cdb: Buffer.from([op, ...Array(15).fill(0)]), write: false });
      // GOOD, or CONDITION MET (04h) for PRE-FETCH (SBC-3 5.13).
      if (c.status === Status.CHECK_CONDITION) expect(kcq(c)).not.toBe('05/20/00');
      else expect([Status.GOOD, 0x04]).toContain(c.status);
    },
  );

  it('an unsupported service action of SERVICE ACTION IN(16) is INVALID FIELD IN CDB at byte 1', async () => {
    const b = cdb.readCapacity16();
    b[1] = 0x11;
    const c = await lo.run({ cdb: b });
    expect(kcq(c)).toBe('05/24/00');
    expect(decodeSense(c.sense!).field).toMatchObject({ inCdb: true, byte: 1 });
  });

  it('a supported opcode on a missing LUN is LOGICAL UNIT NOT SUPPORTED, an unsupported one too', async () => {
    expect(kcq(await lo.run({ cdb: cdb.testUnitReady(), lun: 9 }))).toBe('05/25/00');
    expect(kcq(await lo.run({ cdb: [0xff], lun: 9 }))).toBe('05/25/00');
  });
});
