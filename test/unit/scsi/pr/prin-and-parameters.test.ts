// PERSISTENT RESERVE IN data formats (SPC-4 6.15), iSCSI TransportIDs (SPC-4 7.6.4.6) and the
// PERSISTENT RESERVE OUT parameter lists (SPC-4 6.16.3, 6.16.4), byte by byte.
import { describe, expect, it } from 'vitest';
import { decodeProutParameters } from '../../../../src/scsi/pr/parameters.js';
import { persistentReserveIn } from '../../../../src/scsi/pr/prin.js';
import type { PrOutRequest } from '../../../../src/scsi/pr/prout.js';
import { EMPTY_STATE } from '../../../../src/scsi/pr/state.js';
import { decodeTransportId, encodeTransportId } from '../../../../src/scsi/pr/transport-id.js';
import { isSenseReason, type SenseReason } from '../../../../src/scsi/sense-reason.js';
import { A, B, key, ok, registered, req, reservedBy, SA, TYPE } from './fixtures.js';

/** An iSCSI TransportID written out by hand (SPC-4 Table 386/387). */
function tid(text: string, format: 0 | 1): Buffer {
  const name = Buffer.from(`${text}\0`);
  const len = Math.max(20, Math.ceil(name.length / 4) * 4);
  const b = Buffer.alloc(4 + len);
  b[0] = (format << 6) | 0x05;
  b.writeUInt16BE(len, 2);
  name.copy(b, 4);
  return b;
}

describe('PERSISTENT RESERVE IN', () => {
  it('READ KEYS: PRgeneration, additional length, the keys in registration order', () => {
    const s = registered([A, key(0x1122)], [B, key(0x3344)]);
    const d = persistentReserveIn(s, 0);
    expect(d.toString('hex')).toBe(`00000002` + `00000010` + key(0x1122) + key(0x3344));
  });

  it('READ RESERVATION without a reservation: 8 bytes, additional length 0', () => {
    expect(persistentReserveIn(registered([A, key(1)]), 1).toString('hex')).toBe('0000000100000000');
  });

  it('READ RESERVATION: key, scope/type in byte 21', () => {
    const d = persistentReserveIn(reservedBy('EA_RO'), 1);
    expect(d.length).toBe(24);
    expect(d.readUInt32BE(4)).toBe(16);
    expect(d.subarray(8, 16).toString('hex')).toBe(key(0xa));
    expect(d[21]).toBe(0x06);
  });

  it('REPORT CAPABILITIES: length 8, CRH SIP_C ATP_C PTPL_C, TMV, ALLOW COMMANDS 011b, all six types', () => {
    const d = persistentReserveIn(EMPTY_STATE, 2);
    expect(d.toString('hex')).toBe('0008' + '1d' + 'b0' + 'ea01' + '0000');
    const aptpl = ok(EMPTY_STATE, req(SA.REGISTER, A, { serviceActionKey: key(1), aptpl: true }));
    expect(persistentReserveIn(aptpl, 2)[3]).toBe(0xb1);
  });

  it('READ FULL STATUS: one descriptor per registration with its iSCSI TransportID', () => {
    let s = reservedBy('WE');
    s = ok(
      s,
      req(
        SA.REGISTER,
        { ...A, initiator: 'iqn.x', relativePortId: 5 },
        { serviceActionKey: key(7), allTgPt: true },
      ),
    );
    const d = persistentReserveIn(s, 3);
    expect(d.readUInt32BE(0)).toBe(s.generation);
    expect(d.readUInt32BE(4)).toBe(d.length - 8);
    let off = 8;
    const descs: { key: string; flags: number; scopeType: number; port: number; tid: Buffer }[] = [];
    while (off < d.length) {
      const len = d.readUInt32BE(off + 20);
      descs.push({
        key: d.subarray(off, off + 8).toString('hex'),
        flags: d[off + 12]!,
        scopeType: d[off + 13]!,
        port: d.readUInt16BE(off + 18),
        tid: d.subarray(off + 24, off + 24 + len),
      });
      off += 24 + len;
    }
    expect(off).toBe(d.length);
    expect(descs.map((x) => [x.key, x.flags, x.scopeType, x.port])).toEqual([
      [key(0xa), 0x01, 0x01, 1], // R_HOLDER, LU_SCOPE / WRITE EXCLUSIVE
      [key(0xb), 0x00, 0x00, 1],
      [key(7), 0x02, 0x00, 5], // ALL_TG_PT
    ]);
    expect(descs[0]!.tid).toEqual(tid(`${A.initiator},i,0x${A.isid}`, 1));
    expect(descs[2]!.tid).toEqual(tid(`iqn.x,i,0x${A.isid}`, 1));
  });

  it('READ FULL STATUS: every registrant holds an all-registrants reservation', () => {
    const d = persistentReserveIn(reservedBy('EA_AR'), 3);
    const second = 8 + 24 + d.readUInt32BE(8 + 20);
    expect([d[8 + 12], d[8 + 13], d[second + 12], d[second + 13]]).toEqual([1, 8, 1, 8]);
  });
});

describe('iSCSI TransportIDs', () => {
  it('encodes format 01b (port) and 00b (device) with NUL padding to a multiple of four, at least 20', () => {
    expect(encodeTransportId({ initiator: 'iqn.a', isid: '400001370000' })).toEqual(
      tid('iqn.a,i,0x400001370000', 1),
    );
    const dev = encodeTransportId({ initiator: 'iqn.a', isid: null });
    expect(dev).toEqual(tid('iqn.a', 0));
    expect(dev.length).toBe(24);
  });

  it('decodes both formats, case-insensitively', () => {
    const b = Buffer.concat([tid('IQN.2026-01.Test:X,I,0X40000137ABCD', 1), tid('iqn.y', 0)]);
    const first = decodeTransportId(b, 0, b.length);
    expect(first).toEqual({ tid: { name: 'iqn.2026-01.test:x', isid: '40000137abcd' }, length: 4 + 36 });
    if ('error' in first) throw new Error('unreachable');
    expect(decodeTransportId(b, first.length, b.length)).toEqual({
      tid: { name: 'iqn.y', isid: null },
      length: 24,
    });
  });

  it('rejects other protocols, reserved formats, missing NUL, bad ISIDs and truncation', () => {
    const good = tid('iqn.a,i,0x400001370000', 1);
    const fcp = Buffer.from(good);
    fcp[0] = 0x40;
    expect(decodeTransportId(fcp, 0, fcp.length)).toMatchObject({ error: 'invalid', byte: 0 });
    const fmt = Buffer.from(good);
    fmt[0] = 0x85;
    expect(decodeTransportId(fmt, 0, fmt.length)).toMatchObject({ error: 'invalid', byte: 0 });
    const nonul = Buffer.from(good);
    nonul.fill(0x61, 4);
    expect(decodeTransportId(nonul, 0, nonul.length)).toMatchObject({ error: 'invalid', byte: 4 });
    expect(decodeTransportId(tid('iqn.a,i,0x4000', 1), 0, 24)).toMatchObject({ error: 'invalid' });
    expect(decodeTransportId(tid('iqn.a,i,0x400001370000', 0), 0, 28)).toMatchObject({ error: 'invalid' });
    expect(decodeTransportId(good, 0, good.length - 1)).toMatchObject({ error: 'invalid', byte: 2 });
  });
});

describe('PERSISTENT RESERVE OUT parameter lists', () => {
  const basic = (o: { rk?: number; sark?: number; flags?: number } = {}) => {
    const b = Buffer.alloc(24);
    b.write(key(o.rk ?? 0), 0, 'hex');
    b.write(key(o.sark ?? 0), 8, 'hex');
    b[20] = o.flags ?? 0;
    return b;
  };
  const cdb = (serviceAction: number, parameterListLength: number) =>
    ({ serviceAction, scope: 0, type: 1, parameterListLength }) as const;
  const decode = (sa: number, data: Buffer, len = data.length): PrOutRequest | SenseReason =>
    decodeProutParameters(cdb(sa, len) as Parameters<typeof decodeProutParameters>[0], data, A);

  it('the basic list: keys, SPEC_I_PT, ALL_TG_PT, APTPL', () => {
    const r = decode(SA.REGISTER, basic({ rk: 1, sark: 2, flags: 0x05 }));
    expect(r).toMatchObject({
      key: key(1),
      serviceActionKey: key(2),
      specIPt: false,
      allTgPt: true,
      aptpl: true,
    });
  });

  it('a basic list that is not 24 bytes: PARAMETER LIST LENGTH ERROR', () => {
    for (const len of [0, 23, 25, 28]) {
      const r = decode(SA.RESERVE, Buffer.alloc(Math.max(len, 28)), len);
      expect(isSenseReason(r) && r.name, `length ${len}`).toBe('PARAMETER_LIST_LENGTH_ERROR');
    }
  });

  it('SPEC_I_PT outside REGISTER: INVALID FIELD IN PARAMETER LIST at byte 20 bit 3', () => {
    for (const sa of [SA.REGISTER_AND_IGNORE_EXISTING_KEY, SA.RESERVE, SA.PREEMPT]) {
      const r = decode(sa, basic({ flags: 0x08 }));
      expect(r).toEqual({
        name: 'INVALID_FIELD_IN_PARAMETER_LIST',
        field: { inCdb: false, byte: 20, bit: 3 },
      });
    }
  });

  it('SPEC_I_PT: TransportIDs after the TRANSPORTID PARAMETER DATA LENGTH', () => {
    const t1 = tid('iqn.b,i,0x400001370002', 1);
    const t2 = tid('iqn.c', 0);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(t1.length + t2.length);
    const data = Buffer.concat([basic({ sark: 1, flags: 0x08 }), len, t1, t2]);
    const r = decode(SA.REGISTER, data);
    if (isSenseReason(r)) throw new Error(r.name);
    expect(r.transportIds).toEqual([
      { name: 'iqn.b', isid: '400001370002', offset: 28 },
      { name: 'iqn.c', isid: null, offset: 28 + t1.length },
    ]);
    // The lengths must agree.
    expect(decode(SA.REGISTER, Buffer.concat([data, Buffer.alloc(4)]))).toEqual({
      name: 'PARAMETER_LIST_LENGTH_ERROR',
    });
    const bad = Buffer.from(data);
    bad[28] = 0x41; // FC-style protocol identifier... not iSCSI
    expect(decode(SA.REGISTER, bad)).toMatchObject({
      name: 'INVALID_FIELD_IN_PARAMETER_LIST',
      field: { byte: 28 },
    });
  });

  it('REGISTER AND MOVE: UNREG, APTPL, RELATIVE TARGET PORT IDENTIFIER, the TransportID', () => {
    const t = tid('iqn.d,i,0x400001370004', 1);
    const head = Buffer.alloc(24);
    head.write(key(0xa), 0, 'hex');
    head.write(key(0xd), 8, 'hex');
    head[17] = 0x03;
    head.writeUInt16BE(2, 18);
    head.writeUInt32BE(t.length, 20);
    const r = decode(SA.REGISTER_AND_MOVE, Buffer.concat([head, t]));
    expect(r).toMatchObject({
      key: key(0xa),
      serviceActionKey: key(0xd),
      unreg: true,
      aptpl: true,
      relativePortId: 2,
      transportIds: [{ name: 'iqn.d', isid: '400001370004', offset: 24 }],
    });
    expect(decode(SA.REGISTER_AND_MOVE, Buffer.concat([head, t]), 30)).toEqual({
      name: 'PARAMETER_LIST_LENGTH_ERROR',
    });
  });

  it('the RESERVE type comes from the CDB', () => {
    const r = decode(SA.RESERVE, basic({ rk: 1 }));
    expect(r).toMatchObject({ type: TYPE.WE, scope: 0 });
  });
});
