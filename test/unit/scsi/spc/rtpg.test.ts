// REPORT TARGET PORT GROUPS (SPC-4 6.36) and the standard INQUIRY bits that go with it
// (TPGS = 01b implicit, 3PC). Every port must answer the same, whatever port the command used.
import { beforeEach, describe, expect, it } from 'vitest';
import type { TargetPort } from '../../../../src/scsi/command.js';
import type { TargetPortGroupState } from '../../../../src/scsi/opcode-table.js';
import { cdb, Loopback, makeNexus, targetPort } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

function rtpg(format: number, alloc = 1024): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0xa3;
  b[1] = (format << 5) | 0x0a;
  b.writeUInt32BE(alloc, 6);
  return b;
}

interface Group {
  state: number;
  pref: boolean;
  supported: number;
  id: number;
  status: number;
  ports: number[];
}

function parseGroups(d: Buffer, from: number): Group[] {
  const out: Group[] = [];
  for (let off = from; off < d.length; ) {
    const n = d[off + 7]!;
    const ports: number[] = [];
    for (let i = 0; i < n; i++) ports.push(d.readUInt16BE(off + 8 + 4 * i + 2));
    out.push({
      state: d[off]! & 0x0f,
      pref: (d[off]! & 0x80) !== 0,
      supported: d[off + 1]!,
      id: d.readUInt16BE(off + 2),
      status: d[off + 5]!,
      ports,
    });
    off += 8 + 4 * n;
  }
  return out;
}

describe('REPORT TARGET PORT GROUPS', () => {
  let lo: Loopback;
  beforeEach(async () => {
    lo = new Loopback();
    lo.target.targetPortCount = 2;
    await lo.ready();
  });

  it('embedded: one Active/Optimized group listing every relative port (length-only format)', async () => {
    const d = (await lo.run({ cdb: rtpg(0) })).data!;
    expect(d.readUInt32BE(0)).toBe(d.length - 4);
    const groups = parseGroups(d, 4);
    expect(groups).toEqual([{ state: 0, pref: false, supported: 0x8f, id: 1, status: 0, ports: [1, 2] }]);
  });

  it('extended header: format type 001b and a short implicit transition time', async () => {
    const d = (await lo.run({ cdb: rtpg(1) })).data!;
    expect(d.readUInt32BE(0)).toBe(d.length - 4);
    expect((d[4]! >> 4) & 0x07).toBe(1);
    expect(d[5]).toBeGreaterThan(0);
    expect(d[5]).toBeLessThanOrEqual(30);
    expect(parseGroups(d, 8)[0]!.ports).toEqual([1, 2]);
  });

  it('the same answer through either port', async () => {
    const viaPort2 = makeNexus(undefined, undefined, targetPort(2));
    await lo.ready(viaPort2);
    const a = (await lo.run({ cdb: rtpg(0) })).data!;
    const b = (await lo.run({ cdb: rtpg(0), nexus: viaPort2 })).data!;
    expect(b.equals(a)).toBe(true);
  });

  it('reads ports and states from TargetView.targetPorts() and targetPortGroupState()', async () => {
    const port = (rel: number, tpg: number): TargetPort => ({ ...targetPort(rel), targetPortGroupId: tpg });
    const view = lo.target as unknown as {
      targetPorts(): readonly TargetPort[];
      targetPortGroupState(lu: unknown, id: number): TargetPortGroupState;
    };
    view.targetPorts = () => [port(4, 2), port(1, 1), port(3, 2), port(2, 1)];
    view.targetPortGroupState = (_lu, id) =>
      id === 1 ? { state: 0x0, preferred: true, statusCode: 0x02 } : { state: 0x1 };
    const groups = parseGroups((await lo.run({ cdb: rtpg(0) })).data!, 4);
    expect(groups.map((g) => [g.id, g.state, g.pref, g.status, g.ports])).toEqual([
      [1, 0x0, true, 0x02, [1, 2]],
      [2, 0x1, false, 0x00, [3, 4]],
    ]);
  });

  it('reserved PARAMETER DATA FORMAT values are INVALID FIELD IN CDB', async () => {
    for (const format of [2, 3, 7]) {
      const c = await lo.run({ cdb: rtpg(format) });
      expect(kcq(c)).toBe('05/24/00');
      expect(decodeSense(c.sense!).field?.byte).toBe(1);
    }
  });

  it('allocation lengths 0-255 truncate', async () => {
    const full = (await lo.run({ cdb: rtpg(1) })).data!;
    for (let alloc = 0; alloc < 256; alloc++) {
      const c = await lo.run({ cdb: rtpg(1, alloc) });
      expect(c.status).toBe(Status.GOOD);
      expect(c.data?.length ?? 0).toBe(Math.min(alloc, full.length));
    }
  });

  it('standard INQUIRY: TPGS = 01b (implicit ALUA) and 3PC (EXTENDED COPY)', async () => {
    const d = (await lo.run({ cdb: cdb.inquiry(96) })).data!;
    expect((d[5]! >> 4) & 0x03).toBe(0b01);
    expect(d[5]! & 0x08).toBe(0x08);
  });
});
