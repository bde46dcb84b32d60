// Sense data format on the wire (SPC-4 4.5): fixed (70h) by default, descriptor (72h) once the
// control mode page's D_SENSE is set (lu.mode.dSense).
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb, Loopback } from '../../helpers/loopback.js';
import { decodeSense, Status } from '../../helpers/wire.js';

describe('sense data format', () => {
  let lo: Loopback;
  beforeEach(async () => {
    lo = new Loopback({ blocks: 100 });
    await lo.ready();
  });

  it('fixed format: 18 bytes, response code 70h, ADDITIONAL SENSE LENGTH 10', async () => {
    const c = await lo.run({ cdb: [0xc1] });
    expect(c.sense!.length).toBe(18);
    expect(c.sense![0]).toBe(0x70);
    expect(c.sense![7]).toBe(10);
    expect(c.sense![2]).toBe(0x05);
    expect([c.sense![12], c.sense![13]]).toEqual([0x20, 0x00]);
  });

  it('fixed format INVALID FIELD IN CDB: SKSV, C/D, BPV and the bit in bytes 15-17', async () => {
    const b = cdb.rw(0x28, 0, 1);
    b[9] = 0x01; // LINK in the control byte
    const c = await lo.run({ cdb: b });
    expect([...c.sense!.subarray(15, 18)]).toEqual([0x80 | 0x40 | 0x08 | 0x00, 0x00, 0x09]);
  });

  it('D_SENSE = 1: unsupported opcode → 72h, 05/20/00, additional length covers the descriptors', async () => {
    lo.lu.mode.dSense = true;
    const c = await lo.run({ cdb: [0xc1] });
    expect(c.status).toBe(Status.CHECK_CONDITION);
    expect(c.sense![0]).toBe(0x72);
    expect([c.sense![1]! & 0x0f, c.sense![2], c.sense![3]]).toEqual([0x05, 0x20, 0x00]);
    expect(c.sense!.length).toBe(8 + c.sense![7]!);
  });

  it('D_SENSE = 1: INVALID FIELD IN CDB carries a sense-key specific descriptor with the pointer', async () => {
    lo.lu.mode.dSense = true;
    const b = cdb.rw(0x88, 0, 1);
    b[14] = 0x40;
    const s = decodeSense((await lo.run({ cdb: b })).sense!);
    expect(s.format).toBe('descriptor');
    expect(s.descriptorTypes).toEqual([0x02]);
    expect(s.field).toEqual({ inCdb: true, byte: 14, bit: 6 });
  });

  it('D_SENSE = 1: LBA OUT OF RANGE has no descriptors at all', async () => {
    lo.lu.mode.dSense = true;
    const c = await lo.run({ cdb: cdb.rw(0x28, 100, 1) });
    expect([...c.sense!]).toEqual([0x72, 0x05, 0x21, 0x00, 0, 0, 0, 0]);
  });

  it('D_SENSE = 1 applies to a missing LUN only through REQUEST SENSE DESC (no LU, no mode page)', async () => {
    lo.lu.mode.dSense = true;
    const c = await lo.run({ cdb: cdb.testUnitReady(), lun: 3 });
    expect(c.sense![0]).toBe(0x70);
  });

  it('switching D_SENSE back to 0 returns to fixed format', async () => {
    lo.lu.mode.dSense = true;
    expect((await lo.run({ cdb: [0xc1] })).sense![0]).toBe(0x72);
    lo.lu.mode.dSense = false;
    expect((await lo.run({ cdb: [0xc1] })).sense![0]).toBe(0x70);
  });
});
