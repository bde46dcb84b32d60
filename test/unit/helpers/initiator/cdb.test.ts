import { describe, expect, it } from 'vitest';
import * as cdb from '../../../helpers/initiator/cdb.js';

const hex = (b: Buffer) => b.toString('hex');

describe('CDB builders', () => {
  it('builds SPC commands', () => {
    expect(hex(cdb.testUnitReady())).toBe('000000000000');
    expect(hex(cdb.inquiry({ allocationLength: 96 }))).toBe('120000006000');
    expect(hex(cdb.inquiryVpd(0x83, 0x1000))).toBe('120183100000');
    expect(hex(cdb.requestSense(18, true))).toBe('030100001200');
    expect(hex(cdb.reportLuns(4096))).toBe('a00000000000000010000000');
    expect(hex(cdb.modeSense6({ page: 0x3f, dbd: true, pageControl: 2, allocationLength: 192 }))).toBe(
      '1a08bf00c000',
    );
    expect(hex(cdb.modeSense10({ page: 0x08, llbaa: true, allocationLength: 512 }))).toBe(
      '5a100800000000020000',
    );
    expect(hex(cdb.persistentReserveIn(cdb.PrInAction.READ_FULL_STATUS, 8192))).toBe('5e030000000000200000');
    expect(
      hex(cdb.persistentReserveOut(cdb.PrOutAction.RESERVE, cdb.PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY)),
    ).toBe('5f010500000000001800');
    expect(hex(cdb.reportTargetPortGroups(1024, true))).toBe('a32a00000000000004000000');
  });

  it('builds SBC read/write in every size with FUA and DPO', () => {
    expect(hex(cdb.read6(0x12345, 256))).toBe('080123450000');
    expect(hex(cdb.write6(1, 8))).toBe('0a0000010800');
    expect(() => cdb.read6(0x200000, 1)).toThrow(RangeError);
    expect(hex(cdb.read10(0x01020304, 8, { fua: true }))).toBe('28080102030400000800');
    expect(hex(cdb.write10(5, 1, { dpo: true, fua: true }))).toBe('2a180000000500000100');
    expect(hex(cdb.read12(7, 0x10000))).toBe('a80000000007000100000000');
    expect(hex(cdb.write12(7, 2, { fua: true }))).toBe('aa0800000007000000020000');
    expect(hex(cdb.read16(0x100000000n, 16))).toBe('88000000000100000000000000100000');
    expect(hex(cdb.write16(9, 1, { fua: true }))).toBe('8a080000000000000009000000010000');
  });

  it('builds capacity, cache and verify commands', () => {
    expect(hex(cdb.readCapacity10())).toBe('25000000000000000000');
    expect(hex(cdb.readCapacity16())).toBe('9e100000000000000000000000200000');
    expect(hex(cdb.synchronizeCache10(8, 16, true))).toBe('35020000000800001000');
    expect(hex(cdb.synchronizeCache16())).toBe('91000000000000000000000000000000');
    expect(hex(cdb.verify10(4, 2, 1))).toBe('2f020000000400000200');
    expect(hex(cdb.verify16(4, 2))).toBe('8f000000000000000004000000020000');
  });

  it('builds the PERSISTENT RESERVE OUT parameter list', () => {
    const p = cdb.persistentReserveOutParams({
      key: 0x1122n,
      serviceActionKey: 0xabcdn,
      aptpl: true,
      allTgPts: true,
    });
    expect(p.length).toBe(24);
    expect(p.readBigUInt64BE(0)).toBe(0x1122n);
    expect(p.readBigUInt64BE(8)).toBe(0xabcdn);
    expect(p[20]).toBe(0x05);
  });
});

describe('parameter data decoders', () => {
  it('decodes READ CAPACITY(10)/(16)', () => {
    expect(cdb.parseReadCapacity10(Buffer.from('0001ffff00000200', 'hex'))).toEqual({
      lastLba: 0x1ffff,
      blockLength: 512,
    });
    const d = Buffer.alloc(32);
    d.writeBigUInt64BE(0x1ffffn, 0);
    d.writeUInt32BE(4096, 8);
    d[13] = 0x03;
    d[14] = 0x80;
    expect(cdb.parseReadCapacity16(d)).toMatchObject({
      lastLba: 0x1ffffn,
      blockLength: 4096,
      logicalPerPhysicalExponent: 3,
      thinProvisioned: true,
    });
  });

  it('decodes REPORT LUNS with both addressing methods', () => {
    const d = Buffer.alloc(8 + 24);
    d.writeUInt32BE(24, 0);
    d[9] = 0x00;
    d[17] = 0x07;
    d[24] = 0x41;
    d[25] = 0x2c;
    expect(cdb.parseReportLuns(d)).toEqual([0, 7, 300]);
  });

  it('decodes standard INQUIRY data', () => {
    const d = Buffer.alloc(36, 0x20);
    d[0] = 0x00;
    d[2] = 0x06;
    d[3] = 0x02;
    d[5] = 0x10;
    d[7] = 0x02;
    d.write('TANDEM', 8, 'latin1');
    d.write('VOLUME', 16, 'latin1');
    d.write('0001', 32, 'latin1');
    expect(cdb.parseStandardInquiry(d)).toMatchObject({
      peripheralDeviceType: 0,
      version: 6,
      tpgs: 1,
      cmdque: true,
      vendor: 'TANDEM',
      product: 'VOLUME',
      revision: '0001',
    });
  });
});
