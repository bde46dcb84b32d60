// REPORT SUPPORTED OPERATION CODES (SPC-4 6.35) and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS
// (SPC-4 6.37) checked against what the gate actually does: every reported command dispatches,
// every unreported opcode is refused, every bit outside the reported CDB usage data is INVALID
// FIELD IN CDB, and the TMF bits match what taskManagement() accepts.
import { beforeEach, describe, expect, it } from 'vitest';
import { Loopback } from '../../../helpers/loopback.js';
import { decodeSense, kcq, Status } from '../../../helpers/wire.js';

function rsoc(o: { rctd?: boolean; options?: number; opcode?: number; sa?: number; alloc?: number }): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0xa3;
  b[1] = 0x0c;
  b[2] = (o.rctd ? 0x80 : 0) | (o.options ?? 0);
  b[3] = o.opcode ?? 0;
  b.writeUInt16BE(o.sa ?? 0, 4);
  b.writeUInt32BE(o.alloc ?? 65535, 6);
  return b;
}

function rstmf(repd: boolean, alloc = 255): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0xa3;
  b[1] = 0x0d;
  b[2] = repd ? 0x80 : 0;
  b.writeUInt32BE(alloc, 6);
  return b;
}

interface Descriptor {
  opcode: number;
  sa: number;
  servactv: boolean;
  ctdp: boolean;
  cdbLength: number;
  timeouts?: { length: number; nominal: number; recommended: number };
}

function parseAll(data: Buffer): Descriptor[] {
  const len = data.readUInt32BE(0);
  expect(data.length).toBe(4 + len);
  const out: Descriptor[] = [];
  for (let off = 4; off < data.length; ) {
    const d: Descriptor = {
      opcode: data[off]!,
      sa: data.readUInt16BE(off + 2),
      servactv: (data[off + 5]! & 0x01) !== 0,
      ctdp: (data[off + 5]! & 0x02) !== 0,
      cdbLength: data.readUInt16BE(off + 6),
    };
    off += 8;
    if (d.ctdp) {
      d.timeouts = {
        length: data.readUInt16BE(off),
        nominal: data.readUInt32BE(off + 4),
        recommended: data.readUInt32BE(off + 8),
      };
      off += 12;
    }
    out.push(d);
  }
  return out;
}

const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

describe('REPORT SUPPORTED OPERATION CODES', () => {
  let lo: Loopback;
  let all: Descriptor[];
  beforeEach(async () => {
    lo = new Loopback();
    await lo.ready();
    const c = await lo.run({ cdb: rsoc({}) });
    expect(c.status).toBe(Status.GOOD);
    all = parseAll(c.data!);
  });

  it('reports itself, REPORT SUPPORTED TMFs, RTPG, LOG SENSE, EXTENDED COPY and RECEIVE COPY RESULTS', () => {
    const has = (op: number, sa?: number) =>
      all.some((d) => d.opcode === op && (sa === undefined ? !d.servactv : d.servactv && d.sa === sa));
    expect(has(0xa3, 0x0c)).toBe(true);
    expect(has(0xa3, 0x0d)).toBe(true);
    expect(has(0xa3, 0x0a)).toBe(true);
    expect(has(0x4d)).toBe(true);
    expect(has(0x83, 0x00)).toBe(true);
    for (const sa of [0x00, 0x01, 0x03, 0x04]) expect(has(0x84, sa)).toBe(true);
    expect(has(0x12)).toBe(true);
  });

  it('without RCTD no descriptor has CTDP; SERVACTV clear means service action zero', () => {
    for (const d of all) {
      expect(d.ctdp).toBe(false);
      if (!d.servactv) expect(d.sa).toBe(0);
    }
  });

  it('with RCTD every descriptor carries a 0Ah-long timeouts descriptor with a recommended timeout', async () => {
    const c = await lo.run({ cdb: rsoc({ rctd: true }) });
    const withT = parseAll(c.data!);
    expect(withT.map((d) => [d.opcode, d.sa])).toEqual(all.map((d) => [d.opcode, d.sa]));
    for (const d of withT) {
      expect(d.ctdp, hex(d.opcode)).toBe(true);
      expect(d.timeouts!.length).toBe(0x0a);
      expect(d.timeouts!.recommended, hex(d.opcode)).toBeGreaterThan(0);
      expect(d.timeouts!.nominal).toBeLessThanOrEqual(d.timeouts!.recommended);
    }
  });

  it('every opcode without a descriptor is INVALID COMMAND OPERATION CODE', async () => {
    const reported = new Set(all.map((d) => d.opcode));
    for (let op = 0; op < 256; op++) {
      if (reported.has(op)) continue;
      const c = await lo.run({ cdb: Buffer.from([op, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) });
      expect(kcq(c), hex(op)).toBe('05/20/00');
    }
  });

  it('one command: 001b/010b by SERVACTV, 011b either way, usage byte 0 = opcode, SA in place', async () => {
    for (const d of all) {
      const wrong = d.servactv ? 0b001 : 0b010;
      const right = d.servactv ? 0b010 : 0b001;
      const bad = await lo.run({ cdb: rsoc({ options: wrong, opcode: d.opcode, sa: d.sa }) });
      expect(kcq(bad), `${hex(d.opcode)}/${d.sa}`).toBe('05/24/00');
      for (const options of [right, 0b011]) {
        const c = await lo.run({ cdb: rsoc({ options, opcode: d.opcode, sa: d.sa }) });
        expect(c.status).toBe(Status.GOOD);
        const data = c.data!;
        expect(data[1]! & 0x07).toBe(0b011);
        expect(data[1]! & 0x80).toBe(0);
        expect(data.readUInt16BE(2)).toBe(d.cdbLength);
        expect(data.length).toBe(4 + d.cdbLength);
        expect(data[4]).toBe(d.opcode);
        if (d.servactv) expect(data[5]! & 0x1f).toBe(d.sa);
      }
    }
  });

  it('one command with RCTD appends the timeouts descriptor (CTDP set)', async () => {
    const c = await lo.run({ cdb: rsoc({ rctd: true, options: 0b001, opcode: 0x28 }) });
    const data = c.data!;
    expect(data[1]).toBe(0x80 | 0b011);
    expect(data.length).toBe(4 + 10 + 12);
    expect(data.readUInt16BE(14)).toBe(0x0a);
  });

  it('an unsupported command or service action is SUPPORT 001b, no usage data', async () => {
    for (const cdb of [
      rsoc({ options: 0b001, opcode: 0xe0 }),
      rsoc({ options: 0b010, opcode: 0xa3, sa: 0x1f }),
      rsoc({ options: 0b011, opcode: 0xa3, sa: 0x0100 }),
      rsoc({ options: 0b010, opcode: 0xe1, sa: 1 }),
    ]) {
      const c = await lo.run({ cdb });
      expect(c.status).toBe(Status.GOOD);
      expect([...c.data!]).toEqual([0, 0b001, 0, 0]);
    }
  });

  it('reserved REPORTING OPTIONS are INVALID FIELD IN CDB (byte 2)', async () => {
    for (const options of [0b100, 0b101, 0b110, 0b111]) {
      const c = await lo.run({ cdb: rsoc({ options }) });
      expect(kcq(c)).toBe('05/24/00');
      expect(decodeSense(c.sense!).field?.byte).toBe(2);
    }
  });

  it('every allocation length 0-255 returns exactly that prefix of the list', async () => {
    const full = (await lo.run({ cdb: rsoc({}) })).data!;
    for (let alloc = 0; alloc < 256; alloc++) {
      const c = await lo.run({ cdb: rsoc({ alloc }) });
      const want = Math.min(alloc, full.length);
      expect(c.data?.length ?? 0).toBe(want);
      if (want) expect(c.data!.equals(full.subarray(0, want))).toBe(true);
    }
  });

  it('the reported CDB usage data is what the gate enforces: any other bit is INVALID FIELD IN CDB', async () => {
    for (const d of all) {
      const one = await lo.run({ cdb: rsoc({ options: 0b011, opcode: d.opcode, sa: d.sa }) });
      const u = one.data!.subarray(4);
      for (let byte = 1; byte < d.cdbLength; byte++) {
        for (let bit = 0; bit < 8; bit++) {
          if (u[byte]! & (1 << bit)) continue;
          // Byte 1 bits 4-0 of a service-action command hold the service action itself.
          if (d.servactv && byte === 1 && bit < 5) continue;
          const cdb = Buffer.alloc(Math.max(16, d.cdbLength));
          cdb[0] = d.opcode;
          if (d.servactv) cdb[1] = d.sa;
          cdb[byte] = cdb[byte]! | (1 << bit);
          const c = await lo.run({ cdb });
          expect(c.status, `${hex(d.opcode)}/${d.sa} byte ${byte} bit ${bit}`).toBe(Status.CHECK_CONDITION);
          const s = decodeSense(c.sense!);
          expect([s.key, s.asc, s.field?.byte, s.field?.bit]).toEqual([5, 0x24, byte, bit]);
        }
      }
    }
  });
});

describe('REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS', () => {
  let lo: Loopback;
  beforeEach(async () => {
    lo = new Loopback();
    await lo.ready();
  });

  // Bits of byte 0/1 (SPC-4 6.37.2) and the SAM-5 / RFC 7143 function code each stands for.
  const BITS: Array<{ name: string; byte: number; bit: number; fns: number[] }> = [
    { name: 'ABORT TASK', byte: 0, bit: 7, fns: [1] },
    { name: 'ABORT TASK SET', byte: 0, bit: 6, fns: [2] },
    { name: 'CLEAR ACA', byte: 0, bit: 5, fns: [3] },
    { name: 'CLEAR TASK SET', byte: 0, bit: 4, fns: [4] },
    { name: 'LOGICAL UNIT RESET', byte: 0, bit: 3, fns: [5] },
    { name: 'QUERY TASK', byte: 0, bit: 2, fns: [9] },
    { name: 'TARGET RESET (iSCSI warm/cold)', byte: 0, bit: 1, fns: [6, 7] },
    { name: 'QUERY ASYNCHRONOUS EVENT', byte: 1, bit: 2, fns: [12] },
    { name: 'QUERY TASK SET', byte: 1, bit: 1, fns: [10] },
    { name: 'I_T NEXUS RESET', byte: 1, bit: 0, fns: [11] },
  ];

  it('each reported bit matches what the engine performs', async () => {
    const data = (await lo.run({ cdb: rstmf(false) })).data!;
    expect(data.length).toBe(4);
    expect(data[3]).toBe(0); // ADDITIONAL DATA LENGTH without REPD
    for (const b of BITS) {
      const reported = (data[b.byte]! & (1 << b.bit)) !== 0;
      for (const fn of b.fns) {
        const r = await lo.tmf(fn);
        expect(r !== 5, `${b.name}: engine answers ${r}, reported ${reported}`).toBe(reported);
      }
    }
  });

  it('REPD adds the timeouts: TMFTMOV, ABORT TASK on the short timeout', async () => {
    const data = (await lo.run({ cdb: rstmf(true) })).data!;
    expect(data.length).toBe(16);
    expect(data[3]).toBe(0x0c);
    expect(data[4]! & 0x01).toBe(1);
    expect(data[6]! & 0x80).toBe(0x80); // ATTS
    expect(data[6]! & 0x48).toBe(0); // ATSTS, LURTS: long timeout
    const long = data.readUInt32BE(8);
    const short = data.readUInt32BE(12);
    expect(short).toBeGreaterThan(0);
    expect(long).toBeGreaterThanOrEqual(short);
  });

  it('ALLOCATION LENGTH below 4 is INVALID FIELD IN CDB; above it, truncation', async () => {
    for (const alloc of [0, 1, 2, 3]) expect(kcq(await lo.run({ cdb: rstmf(true, alloc) }))).toBe('05/24/00');
    const c = await lo.run({ cdb: rstmf(true, 5) });
    expect(c.data!.length).toBe(5);
  });
});
