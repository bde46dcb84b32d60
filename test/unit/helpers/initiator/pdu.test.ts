import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import {
  BHS_LENGTH,
  buildBhs,
  buildDataOut,
  buildLoginRequest,
  buildLogoutRequest,
  buildNopOut,
  buildScsiCommand,
  buildTextRequest,
  buildTmfRequest,
  decodeLun,
  decodeTargetPdu,
  digestBytes,
  encodeLun,
  encodePdu,
  Opcode,
  RESERVED_TAG,
  snAdd,
  snLt,
  snLte,
} from '../../../helpers/initiator/pdu.js';

const hex = (b: Buffer) => b.toString('hex');

describe('BHS builders', () => {
  it('lays out a SCSI Command (RFC 7143 11.3)', () => {
    const cdb = Buffer.from('2a000000100000000800', 'hex');
    const { bhs, ahs } = buildScsiCommand({
      lun: 3,
      itt: 0x11223344,
      cmdSN: 7,
      expStatSN: 9,
      cdb,
      expectedDataTransferLength: 4096,
      write: true,
      attribute: 'ORDERED',
    });
    expect(bhs.length).toBe(BHS_LENGTH);
    expect(bhs[0]).toBe(0x01);
    expect(bhs[1]).toBe(0x80 | 0x20 | 0x02);
    expect(hex(bhs.subarray(8, 16))).toBe('0003000000000000');
    expect(bhs.readUInt32BE(16)).toBe(0x11223344);
    expect(bhs.readUInt32BE(20)).toBe(4096);
    expect(bhs.readUInt32BE(24)).toBe(7);
    expect(bhs.readUInt32BE(28)).toBe(9);
    expect(hex(bhs.subarray(32, 48))).toBe(hex(Buffer.concat([cdb, Buffer.alloc(6)])));
    expect(ahs).toBeUndefined();
  });

  it('puts a 32-byte CDB tail in an Extended CDB AHS and the bidi read length in its own AHS', () => {
    const cdb = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
    const pdu = buildScsiCommand({
      lun: 0,
      itt: 1,
      cmdSN: 1,
      expStatSN: 1,
      cdb,
      expectedDataTransferLength: 512,
      read: true,
      write: true,
      bidiReadLength: 1024,
      immediate: true,
    });
    expect(pdu.bhs[0]).toBe(0x41);
    // AHSLength 17 (16 CDB bytes + reserved), type 1, reserved, 16 bytes, 3 pad = 20 bytes.
    expect(hex(pdu.ahs!.subarray(0, 4))).toBe('00110100');
    expect(pdu.ahs!.subarray(4, 20)).toEqual(cdb.subarray(16));
    expect(hex(pdu.ahs!.subarray(20))).toBe('0005020000000400');
    const framed = encodePdu(pdu);
    expect(framed[4]).toBe(7); // TotalAHSLength in words: (20 + 8) / 4
    expect(framed.length).toBe(48 + 28);
  });

  it('encodes the LUN with peripheral and flat space addressing', () => {
    expect(hex(encodeLun(0))).toBe('0000000000000000');
    expect(hex(encodeLun(255))).toBe('00ff000000000000');
    expect(hex(encodeLun(256))).toBe('4100000000000000');
    expect(hex(encodeLun(0x3fff))).toBe('7fff000000000000');
    for (const n of [0, 1, 255, 256, 1000, 0x3fff]) expect(decodeLun(encodeLun(n))).toBe(n);
    expect(() => encodeLun(0x4000)).toThrow(RangeError);
  });

  it('lays out Login, Text, NOP-Out, TMF, Logout and Data-Out requests', () => {
    const login = buildLoginRequest({
      transit: true,
      csg: 1,
      nsg: 3,
      isid: Buffer.from('80123456789a', 'hex'),
      tsih: 0x0102,
      itt: 5,
      cid: 0x0a0b,
      cmdSN: 1,
      expStatSN: 2,
    }).bhs;
    expect(hex(login.subarray(0, 4))).toBe('43870000');
    expect(hex(login.subarray(8, 16))).toBe('80123456789a0102');
    expect(login.readUInt16BE(20)).toBe(0x0a0b);

    const text = buildTextRequest({ itt: 6, cmdSN: 3, expStatSN: 4, cont: true, final: false }).bhs;
    expect(hex(text.subarray(0, 2))).toBe('0440');
    expect(text.readUInt32BE(20)).toBe(RESERVED_TAG);

    const nop = buildNopOut({ itt: RESERVED_TAG, ttt: 0x99, cmdSN: 3, expStatSN: 4, immediate: true }).bhs;
    expect(hex(nop.subarray(0, 2))).toBe('4080');
    expect(nop.readUInt32BE(20)).toBe(0x99);

    const tmf = buildTmfRequest({ fn: 'LUN_RESET', lun: 2, itt: 7, cmdSN: 3, expStatSN: 4 }).bhs;
    expect(hex(tmf.subarray(0, 2))).toBe('4285');
    expect(tmf.readUInt32BE(20)).toBe(RESERVED_TAG);

    const logout = buildLogoutRequest({ reason: 1, itt: 8, cid: 3, cmdSN: 3, expStatSN: 4 }).bhs;
    expect(hex(logout.subarray(0, 2))).toBe('4681');
    expect(logout.readUInt16BE(20)).toBe(3);

    const out = buildDataOut({
      lun: 1,
      itt: 9,
      ttt: 0x55,
      expStatSN: 4,
      dataSN: 2,
      bufferOffset: 8192,
      final: true,
      data: Buffer.alloc(10),
    }).bhs;
    expect(hex(out.subarray(0, 2))).toBe('0580');
    expect([out.readUInt32BE(20), out.readUInt32BE(36), out.readUInt32BE(40)]).toEqual([0x55, 2, 8192]);
  });

  it('rejects word offsets outside the opcode-specific area', () => {
    expect(() => buildBhs({ opcode: 0, words: { 16: 1 } })).toThrow(RangeError);
    expect(() => buildBhs({ opcode: 0, words: { 22: 1 } })).toThrow(RangeError);
  });
});

describe('framing', () => {
  it('pads data to 4 bytes and sets DataSegmentLength to the unpadded length', () => {
    const framed = encodePdu({ bhs: buildBhs({ opcode: Opcode.NopOut }), data: Buffer.from('abcde') });
    expect(framed.length).toBe(48 + 8);
    expect(framed.readUIntBE(5, 3)).toBe(5);
    expect(hex(framed.subarray(53))).toBe('000000');
  });

  it('keeps lying lengths with rawLengths', () => {
    const framed = encodePdu(
      { bhs: buildBhs({ opcode: Opcode.NopOut, dataSegmentLength: 100 }), data: Buffer.from('ab') },
      { rawLengths: true },
    );
    expect(framed.readUIntBE(5, 3)).toBe(100);
  });

  it('writes CRC32C least significant byte first (RFC 7143 B.4: 32 zero bytes → aa 36 91 8a)', () => {
    expect(hex(digestBytes(crc32c(Buffer.alloc(32))))).toBe('aa36918a');
  });

  it('adds header and data digests over BHS+AHS and padded data', () => {
    const bhs = buildBhs({ opcode: Opcode.NopOut, itt: 1 });
    const framed = encodePdu({ bhs, data: Buffer.from('xyz') }, { headerDigest: true, dataDigest: true });
    expect(framed.length).toBe(48 + 4 + 4 + 4);
    expect(framed.readUInt32LE(48)).toBe(crc32c(framed.subarray(0, 48)));
    expect(framed.readUInt32LE(56)).toBe(crc32c(Buffer.from('xyz\0')));
    // No data digest without data.
    expect(encodePdu({ bhs }, { dataDigest: true }).length).toBe(48);
  });
});

describe('decodeTargetPdu', () => {
  const raw = (bhs: Buffer, data: Buffer = Buffer.alloc(0)) => ({ bhs, ahs: Buffer.alloc(0), data });

  it('decodes a SCSI Response with sense and residuals', () => {
    const bhs = buildBhs({
      opcode: Opcode.ScsiResponse,
      flags: 0x80 | 0x02,
      byte2: 0,
      byte3: 0x02,
      itt: 4,
      words: { 24: 10, 28: 11, 32: 50, 36: 3, 44: 512 },
    });
    const data = Buffer.concat([
      Buffer.from([0, 4]),
      Buffer.from('7000050a', 'hex'),
      Buffer.from('ff', 'hex'),
    ]);
    const pdu = decodeTargetPdu(raw(bhs, data));
    expect(pdu).toMatchObject({
      kind: 'ScsiResponse',
      itt: 4,
      status: 2,
      underflow: true,
      overflow: false,
      statSN: 10,
      expCmdSN: 11,
      maxCmdSN: 50,
      expDataSN: 3,
      residualCount: 512,
    });
    if (pdu.kind !== 'ScsiResponse') throw new Error('kind');
    expect(hex(pdu.senseData)).toBe('7000050a');
    expect(hex(pdu.responseData)).toBe('ff');
  });

  it('throws on a SenseLength longer than the segment', () => {
    const bhs = buildBhs({ opcode: Opcode.ScsiResponse, flags: 0x80 });
    expect(() => decodeTargetPdu(raw(bhs, Buffer.from([0, 9, 1])))).toThrow(RangeError);
  });

  it('decodes Data-In, R2T, Login Response, Logout Response, Async Message and Reject', () => {
    const dataIn = decodeTargetPdu(
      raw(
        buildBhs({
          opcode: Opcode.DataIn,
          flags: 0x81,
          byte3: 0,
          lun: 1,
          itt: 2,
          words: { 36: 4, 40: 8192 },
        }),
        Buffer.alloc(16),
      ),
    );
    expect(dataIn).toMatchObject({
      kind: 'DataIn',
      final: true,
      hasStatus: true,
      lun: 1,
      dataSN: 4,
      bufferOffset: 8192,
    });

    const r2t = decodeTargetPdu(
      raw(
        buildBhs({
          opcode: Opcode.ReadyToTransfer,
          flags: 0x80,
          itt: 2,
          words: { 20: 7, 36: 1, 40: 100, 44: 200 },
        }),
      ),
    );
    expect(r2t).toMatchObject({ kind: 'R2T', ttt: 7, r2tSN: 1, bufferOffset: 100, desiredLength: 200 });

    const lb = buildBhs({
      opcode: Opcode.LoginResponse,
      flags: 0x87,
      byte3: 0,
      lun: Buffer.from('80123456789a0042', 'hex'),
    });
    lb[36] = 2;
    lb[37] = 1;
    expect(decodeTargetPdu(raw(lb))).toMatchObject({
      kind: 'LoginResponse',
      transit: true,
      csg: 1,
      nsg: 3,
      tsih: 0x42,
      statusClass: 2,
      statusDetail: 1,
    });

    const out = buildBhs({ opcode: Opcode.LogoutResponse, flags: 0x80, byte2: 0 });
    out.writeUInt16BE(2, 40);
    out.writeUInt16BE(20, 42);
    expect(decodeTargetPdu(raw(out))).toMatchObject({
      kind: 'LogoutResponse',
      response: 0,
      time2Wait: 2,
      time2Retain: 20,
    });

    const am = buildBhs({ opcode: Opcode.AsyncMessage, flags: 0x80, lun: 1, itt: RESERVED_TAG });
    am[36] = 1;
    am.writeUInt16BE(10, 42);
    expect(decodeTargetPdu(raw(am))).toMatchObject({
      kind: 'AsyncMessage',
      asyncEvent: 1,
      parameter3: 10,
      lun: 1,
    });

    const rejected = buildBhs({ opcode: Opcode.ScsiCommand, itt: 0x1234 });
    expect(
      decodeTargetPdu(
        raw(buildBhs({ opcode: Opcode.Reject, flags: 0x80, byte2: 4, itt: RESERVED_TAG }), rejected),
      ),
    ).toMatchObject({
      kind: 'Reject',
      reason: 4,
      rejectedOpcode: Opcode.ScsiCommand,
      rejectedItt: 0x1234,
    });

    expect(decodeTargetPdu(raw(buildBhs({ opcode: 0x3c })))).toMatchObject({ kind: 'Unknown', opcode: 0x3c });
  });
});

describe('serial number arithmetic (RFC 1982)', () => {
  it('compares across the 2^32 wrap', () => {
    expect(snLt(1, 2)).toBe(true);
    expect(snLt(2, 1)).toBe(false);
    expect(snLt(0xffffffff, 0)).toBe(true);
    expect(snLt(0, 0xffffffff)).toBe(false);
    expect(snLte(5, 5)).toBe(true);
    expect(snAdd(0xffffffff, 2)).toBe(1);
    expect(snAdd(0, -1)).toBe(0xffffffff);
  });
});
