import { describe, expect, it } from 'vitest';
import { DigestError, ProtocolError } from '../../../helpers/initiator/errors.js';
import { buildBhs, encodePdu, Opcode } from '../../../helpers/initiator/pdu.js';
import { PduReader } from '../../../helpers/initiator/pdu-reader.js';

const nopIn = (itt: number, data?: Buffer, digests = { header: false, data: false }) =>
  encodePdu(
    { bhs: buildBhs({ opcode: Opcode.NopIn, flags: 0x80, itt }), data },
    { headerDigest: digests.header, dataDigest: digests.data },
  );

describe('PduReader', () => {
  it('reassembles PDUs fed one byte at a time', () => {
    const r = new PduReader(() => ({ header: false, data: false }));
    const wire = Buffer.concat([nopIn(1, Buffer.from('hello')), nopIn(2)]);
    const out = [];
    for (const byte of wire) {
      r.push(Buffer.from([byte]));
      for (let p = r.next(); p; p = r.next()) out.push(p);
    }
    expect(out.map((p) => p.bhs.readUInt32BE(16))).toEqual([1, 2]);
    expect(out[0]!.data.toString()).toBe('hello');
    expect(r.buffered).toBe(0);
  });

  it('splits several PDUs from one chunk and strips padding', () => {
    const r = new PduReader(() => ({ header: false, data: false }));
    r.push(Buffer.concat([nopIn(1, Buffer.from('a')), nopIn(2, Buffer.from('bcdef')), nopIn(3)]));
    expect([r.next(), r.next(), r.next()].map((p) => p?.data.toString())).toEqual(['a', 'bcdef', '']);
    expect(r.next()).toBeUndefined();
  });

  it('checks header and data digests and switches them on between PDUs', () => {
    const digests = { header: false, data: false };
    const r = new PduReader(() => digests);
    const on = { header: true, data: true };
    r.push(Buffer.concat([nopIn(1), nopIn(2, Buffer.from('xyz'), on)]));
    expect(r.next()!.bhs.readUInt32BE(16)).toBe(1);
    digests.header = true;
    digests.data = true;
    expect(r.next()!.data.toString()).toBe('xyz');
  });

  it('throws DigestError on a bad header digest', () => {
    const r = new PduReader(() => ({ header: true, data: false }));
    const wire = nopIn(1, undefined, { header: true, data: false });
    wire[48] ^= 0xff;
    r.push(wire);
    expect(() => r.next()).toThrow(DigestError);
  });

  it('throws DigestError on a bad data digest', () => {
    const r = new PduReader(() => ({ header: true, data: true }));
    const wire = nopIn(1, Buffer.from('abcd'), { header: true, data: true });
    wire[wire.length - 1] ^= 0x01;
    r.push(wire);
    expect(() => r.next()).toThrow(expect.objectContaining({ which: 'data' }));
  });

  it('refuses an implausible DataSegmentLength', () => {
    const r = new PduReader(() => ({ header: false, data: false }), 1024);
    r.push(
      encodePdu({ bhs: buildBhs({ opcode: Opcode.NopIn, dataSegmentLength: 4096 }) }, { rawLengths: true }),
    );
    expect(() => r.next()).toThrow(ProtocolError);
  });
});
