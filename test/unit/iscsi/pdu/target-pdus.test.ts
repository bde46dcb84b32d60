// The BHS of every PDU the target builds (src/iscsi/pdu/target-pdus.ts), byte by byte against
// RFC 7143 11: opcode, the flags of byte 1, the reserved tags, where the sequence numbers go.
// The numbers are written out from the RFC here, not taken from src/iscsi/pdu/bhs.ts.
import { describe, expect, it } from 'vitest';
import * as out from '../../../../src/iscsi/pdu/target-pdus.js';

const SEQ = { statSN: 0x11111111, expCmdSN: 0x22222222, maxCmdSN: 0x33333333 };
const LUN = Buffer.from([0, 5, 0, 0, 0, 0, 0, 0]);

function expectSeq(b: Buffer): void {
  expect(b.readUInt32BE(24)).toBe(SEQ.statSN);
  expect(b.readUInt32BE(28)).toBe(SEQ.expCmdSN);
  expect(b.readUInt32BE(32)).toBe(SEQ.maxCmdSN);
}

describe('target PDUs (RFC 7143 11)', () => {
  it('SCSI Response (11.4): 0x21, bit 7 set, o/u residual bits, response and status', () => {
    const b = out.scsiResponse(
      { itt: 7, status: 0x02, overflow: false, underflow: true, residual: 512, expDataSN: 3 },
      SEQ,
    );
    expect(b.length).toBe(48);
    expect([b[0], b[1], b[2], b[3]]).toEqual([0x21, 0x80 | 0x02, 0x00, 0x02]);
    expect(b.readUInt32BE(16)).toBe(7);
    expectSeq(b);
    expect(b.readUInt32BE(36)).toBe(3);
    expect(b.readUInt32BE(44)).toBe(512);
    const o = out.scsiResponse({ itt: 7, status: 0, overflow: true, underflow: false, residual: 1 }, SEQ);
    expect(o[1]).toBe(0x80 | 0x04);
  });

  it('SCSI Data-In (11.7): F and S bits, TTT reserved, StatSN only with status', () => {
    const mid = out.dataIn({ itt: 9, lunBytes: LUN, final: false, dataSN: 4, offset: 8192 }, SEQ);
    expect([mid[0], mid[1], mid[3]]).toEqual([0x25, 0x00, 0x00]);
    expect(mid.subarray(8, 16).equals(LUN)).toBe(true);
    expect(mid.readUInt32BE(16)).toBe(9);
    expect(mid.readUInt32BE(20)).toBe(0xffffffff);
    expect(mid.readUInt32BE(24)).toBe(0);
    expect(mid.readUInt32BE(36)).toBe(4);
    expect(mid.readUInt32BE(40)).toBe(8192);
    const last = out.dataIn(
      {
        itt: 9,
        lunBytes: LUN,
        final: true,
        dataSN: 5,
        offset: 0,
        status: 0,
        underflow: true,
        residual: 100,
      },
      SEQ,
    );
    expect([last[1], last[3]]).toEqual([0x80 | 0x02 | 0x01, 0x00]);
    expectSeq(last);
    expect(last.readUInt32BE(44)).toBe(100);
    const over = out.dataIn(
      { itt: 9, lunBytes: LUN, final: true, dataSN: 0, offset: 0, status: 0, overflow: true, residual: 1 },
      SEQ,
    );
    expect(over[1]).toBe(0x80 | 0x04 | 0x01);
  });

  it('R2T (11.8): 0x31, bit 7 set, TTT, R2TSN, offset, desired length', () => {
    const b = out.r2t({ itt: 1, ttt: 0x100, lunBytes: LUN, r2tSN: 2, offset: 4096, length: 65536 }, SEQ);
    expect([b[0], b[1]]).toEqual([0x31, 0x80]);
    expect(b.subarray(8, 16).equals(LUN)).toBe(true);
    expect([b.readUInt32BE(16), b.readUInt32BE(20)]).toEqual([1, 0x100]);
    expectSeq(b);
    expect([b.readUInt32BE(36), b.readUInt32BE(40), b.readUInt32BE(44)]).toEqual([2, 4096, 65536]);
  });

  it('NOP-In (11.19), Task Management Response (11.6), Logout Response (11.15): bit 7 set', () => {
    const nop = out.nopIn({ itt: 0xffffffff, ttt: 3 }, SEQ);
    expect([nop[0], nop[1]]).toEqual([0x20, 0x80]);
    expect([nop.readUInt32BE(16), nop.readUInt32BE(20)]).toEqual([0xffffffff, 3]);
    expectSeq(nop);
    const tmf = out.tmfResponse({ itt: 4, response: 0x01 }, SEQ);
    expect([tmf[0], tmf[1], tmf[2]]).toEqual([0x22, 0x80, 0x01]);
    expect(tmf.readUInt32BE(16)).toBe(4);
    const lo = out.logoutResponse({ itt: 6, response: 0, time2wait: 2, time2retain: 20 }, SEQ);
    expect([lo[0], lo[1], lo[2]]).toEqual([0x26, 0x80, 0x00]);
    expect([lo.readUInt16BE(40), lo.readUInt16BE(42)]).toEqual([2, 20]);
  });

  it('Text Response (11.11): F and C bits as asked', () => {
    const f = (final: boolean, cont: boolean) =>
      out.textResponse({ itt: 1, ttt: 0xffffffff, final, continue: cont }, SEQ)[1];
    expect([f(true, false), f(false, true), f(false, false)]).toEqual([0x80, 0x40, 0x00]);
    expect(out.textResponse({ itt: 1, ttt: 0xffffffff, final: true, continue: false }, SEQ)[0]).toBe(0x24);
  });

  it('Login Response (11.13): T, C, CSG, NSG (NSG only with T), ISID, TSIH, status', () => {
    const isid = Buffer.from([0x40, 0x00, 0x01, 0x37, 0x00, 0x00]);
    const base = { isid, tsih: 0x1234, itt: 2, statusClass: 0, statusDetail: 0 };
    const t = out.loginResponse({ ...base, transit: true, continue: false, csg: 1, nsg: 3 }, SEQ);
    expect([t[0], t[1], t[2], t[3]]).toEqual([0x23, 0x80 | (1 << 2) | 3, 0x00, 0x00]);
    expect(t.subarray(8, 14).equals(isid)).toBe(true);
    expect(t.readUInt16BE(14)).toBe(0x1234);
    expectSeq(t);
    const c = out.loginResponse(
      { ...base, transit: false, continue: true, csg: 0, nsg: 1, statusClass: 2, statusDetail: 1 },
      SEQ,
    );
    expect(c[1]).toBe(0x40);
    expect([c[36], c[37]]).toEqual([2, 1]);
  });

  it('Reject (11.17) and Asynchronous Message (11.9): bit 7 set, ITT reserved', () => {
    const r = out.reject({ reason: 0x04, dataSN: 7 }, SEQ);
    expect([r[0], r[1], r[2]]).toEqual([0x3f, 0x80, 0x04]);
    expect(r.readUInt32BE(16)).toBe(0xffffffff);
    expectSeq(r);
    expect(r.readUInt32BE(36)).toBe(7);
    const a = out.asyncMessage({ event: 1, lunBytes: LUN, param1: 0, param2: 2, param3: 20 }, SEQ);
    expect([a[0], a[1]]).toEqual([0x32, 0x80]);
    expect(a.subarray(8, 16).equals(LUN)).toBe(true);
    expect(a.readUInt32BE(16)).toBe(0xffffffff);
    expect([a[36], a[37], a.readUInt16BE(40), a.readUInt16BE(42)]).toEqual([1, 0, 2, 20]);
  });
});
