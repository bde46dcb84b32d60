// The multipath client's decoders: REPORT TARGET PORT GROUPS (SPC-4 6.36, both header formats)
// and VPD page 83h's target port and target port group designators (SPC-4 7.8.6).
import { describe, expect, it } from 'vitest';
import { decodeDeviceIdentification, decodeRtpg } from '../../../helpers/multipath.js';

/** One target port group descriptor: state byte, supported byte, id, status, relative port ids. */
function descriptor(opts: {
  state: number;
  pref?: boolean;
  sup?: number;
  id: number;
  status?: number;
  ports: number[];
}): Buffer {
  const b = Buffer.alloc(8 + 4 * opts.ports.length);
  b[0] = (opts.pref ? 0x80 : 0) | opts.state;
  b[1] = opts.sup ?? 0x8f;
  b.writeUInt16BE(opts.id, 2);
  b[5] = opts.status ?? 0;
  b[6] = 0x5a;
  b[7] = opts.ports.length;
  for (const [i, p] of opts.ports.entries()) b.writeUInt16BE(p, 8 + 4 * i + 2);
  return b;
}

function lengthOnly(...descs: Buffer[]): Buffer {
  const body = Buffer.concat(descs);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length, 0);
  return Buffer.concat([h, body]);
}

function extended(transition: number, ...descs: Buffer[]): Buffer {
  const body = Buffer.concat(descs);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(body.length + 4, 0);
  h[4] = 0x10;
  h[5] = transition;
  return Buffer.concat([h, body]);
}

const A = descriptor({ state: 0x0, id: 1, ports: [1] });
const B = descriptor({ state: 0x1, id: 2, ports: [2, 3], status: 0x02 });

describe('decodeRtpg', () => {
  it('length-only header: every group, its state, PREF, supported states, status and ports', () => {
    const d = decodeRtpg(lengthOnly(descriptor({ state: 0x0, pref: true, id: 7, ports: [1] }), B));
    expect(d.format).toBe('length-only');
    expect(d.truncated).toBe(false);
    expect(d.implicitTransitionTime).toBeUndefined();
    expect(d.groups).toEqual([
      {
        state: 'active-optimized',
        stateCode: 0,
        preferred: true,
        supportedStates: 0x8f,
        targetPortGroupId: 7,
        statusCode: 0,
        vendorSpecific: 0x5a,
        relativeTargetPortIds: [1],
      },
      {
        state: 'active-non-optimized',
        stateCode: 1,
        preferred: false,
        supportedStates: 0x8f,
        targetPortGroupId: 2,
        statusCode: 2,
        vendorSpecific: 0x5a,
        relativeTargetPortIds: [2, 3],
      },
    ]);
  });

  it('extended header: FORMAT TYPE 001b and the implicit transition time', () => {
    const d = decodeRtpg(extended(5, A, B), true);
    expect(d.format).toBe('extended');
    expect(d.implicitTransitionTime).toBe(5);
    expect(d.groups.map((g) => [g.targetPortGroupId, g.state])).toEqual([
      [1, 'active-optimized'],
      [2, 'active-non-optimized'],
    ]);
  });

  it('extended requested, length-only answered: decoded as length-only', () => {
    const d = decodeRtpg(lengthOnly(A, B), true);
    expect(d.format).toBe('length-only');
    expect(d.groups).toHaveLength(2);
  });

  it('every access state code', () => {
    const codes: Array<[number, string]> = [
      [0x0, 'active-optimized'],
      [0x1, 'active-non-optimized'],
      [0x2, 'standby'],
      [0x3, 'unavailable'],
      [0x4, 'lba-dependent'],
      [0xe, 'offline'],
      [0xf, 'transitioning'],
      [0x5, 'reserved'],
    ];
    const d = decodeRtpg(
      lengthOnly(...codes.map(([state], i) => descriptor({ state, id: i + 1, ports: [i + 1] }))),
    );
    expect(d.groups.map((g) => g.state)).toEqual(codes.map(([, s]) => s));
  });

  it('data cut short by the allocation length: whole descriptors only, truncated set', () => {
    const full = lengthOnly(A, B);
    for (let len = 4; len < full.length; len++) {
      const d = decodeRtpg(full.subarray(0, len));
      expect(d.truncated, `length ${len}`).toBe(true);
      expect(d.groups.length, `length ${len}`).toBe(len >= 4 + A.length ? 1 : 0);
    }
    expect(decodeRtpg(full).truncated).toBe(false);
  });

  it('a group with no ports, and an empty list', () => {
    expect(
      decodeRtpg(lengthOnly(descriptor({ state: 2, id: 9, ports: [] }))).groups[0]!.relativeTargetPortIds,
    ).toEqual([]);
    expect(decodeRtpg(lengthOnly()).groups).toEqual([]);
    expect(decodeRtpg(extended(0), true).groups).toEqual([]);
  });

  it('fewer than 4 bytes is an error', () => {
    expect(() => decodeRtpg(Buffer.alloc(3))).toThrow(RangeError);
  });
});

function designator(association: number, type: number, value: Buffer, codeSet = 1): Buffer {
  return Buffer.concat([Buffer.from([codeSet, 0x80 | (association << 4) | type, 0, value.length]), value]);
}

function vpd83(...ds: Buffer[]): Buffer {
  const body = Buffer.concat(ds);
  const h = Buffer.from([0, 0x83, 0, 0]);
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
}

describe('decodeDeviceIdentification', () => {
  const naa = designator(0, 3, Buffer.from('6001405abcdef0123456789abcdef012', 'hex'));
  const scsiName = designator(1, 8, Buffer.from('iqn.2026-11.org.tandem:cluster,t,0x0001\0'), 3);
  const rel = designator(1, 4, Buffer.from([0, 0, 0x01, 0x02]));
  const tpg = designator(1, 5, Buffer.from([0, 0, 0x00, 0x07]));

  it('finds the relative target port and target port group of the port', () => {
    const id = decodeDeviceIdentification(vpd83(naa, scsiName, rel, tpg));
    expect(id.relativeTargetPortId).toBe(0x0102);
    expect(id.targetPortGroupId).toBe(7);
    expect(id.designators.map((d) => [d.association, d.type])).toEqual([
      [0, 3],
      [1, 8],
      [1, 4],
      [1, 5],
    ]);
  });

  it('ignores type 4/5 designators not associated with the target port', () => {
    const id = decodeDeviceIdentification(vpd83(designator(0, 4, Buffer.from([0, 0, 0, 1])), naa));
    expect(id.relativeTargetPortId).toBeUndefined();
    expect(id.targetPortGroupId).toBeUndefined();
  });

  it('stops at a designator running past the page', () => {
    const page = vpd83(naa, tpg);
    const id = decodeDeviceIdentification(page.subarray(0, page.length - 2));
    expect(id.designators).toHaveLength(1);
  });

  it('rejects another page', () => {
    expect(() => decodeDeviceIdentification(Buffer.from([0, 0x80, 0, 0]))).toThrow(RangeError);
  });
});
