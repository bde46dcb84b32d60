// Reservations through the engine's gate with the loopback transport: raw CDBs and parameter
// lists in, status / sense / data out. Covers the RESERVATION CONFLICT step, the unit attentions
// on the nexuses concerned, PREEMPT AND ABORT's task abort, SPC-2 RESERVE/RELEASE with their
// release by LU reset and nexus loss, and APTPL across a restart (a new LU on the same file).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../../src/backstore/memory.js';
import { LogicalUnit } from '../../../../src/scsi/logical-unit.js';
import { Loopback, makeNexus, Tmf, targetPort } from '../../../helpers/loopback.js';
import { kcq, Status } from '../../../helpers/wire.js';

const key = (n: number): string => n.toString(16).padStart(16, '0');

function proutCdb(sa: number, type: number, len = 24): Buffer {
  const b = Buffer.alloc(10);
  b[0] = 0x5f;
  b[1] = sa;
  b[2] = type;
  b.writeUInt32BE(len, 5);
  return b;
}

function basic(rk: number, sark: number, flags = 0): Buffer {
  const b = Buffer.alloc(24);
  b.write(key(rk), 0, 'hex');
  b.write(key(sark), 8, 'hex');
  b[20] = flags;
  return b;
}

function prinCdb(sa: number, alloc = 8192): Buffer {
  const b = Buffer.alloc(10);
  b[0] = 0x5e;
  b[1] = sa;
  b.writeUInt16BE(alloc, 7);
  return b;
}

const write10 = (lba = 0, blocks = 1): Buffer => {
  const b = Buffer.alloc(10);
  b[0] = 0x2a;
  b.writeUInt32BE(lba, 2);
  b.writeUInt16BE(blocks, 7);
  return b;
};
const read10 = (lba = 0, blocks = 1): Buffer => {
  const b = Buffer.alloc(10);
  b[0] = 0x28;
  b.writeUInt32BE(lba, 2);
  b.writeUInt16BE(blocks, 7);
  return b;
};

const A = makeNexus('iqn.2026-01.test:a', '400001370001');
const B = makeNexus('iqn.2026-01.test:b', '400001370002');
const A2 = makeNexus('iqn.2026-01.test:a', '400001370001', targetPort(2));

describe('reservations through the gate', () => {
  let lb: Loopback;
  const prout = (nexus: typeof A, sa: number, type: number, data: Buffer) =>
    lb.run({ cdb: proutCdb(sa, type, data.length), nexus, dataOut: data });
  const write = (nexus: typeof A) => lb.run({ cdb: write10(), nexus, dataOut: Buffer.alloc(512, 1) });

  beforeEach(async () => {
    lb = new Loopback();
    for (const n of [A, B, A2]) await lb.ready(n);
  });

  it('a write from another I_T nexus under WRITE EXCLUSIVE: RESERVATION CONFLICT, no data-out asked', async () => {
    expect((await prout(A, 0, 0, basic(0, 0xa))).status).toBe(Status.GOOD);
    expect((await prout(A, 1, 1, basic(0xa, 0))).status).toBe(Status.GOOD);
    const cmd = lb.command({ cdb: write10(), nexus: B, dataOut: Buffer.alloc(512) });
    const c = await lb.start(cmd);
    expect(c.status).toBe(Status.RESERVATION_CONFLICT);
    expect(c.sense).toBeUndefined();
    expect(cmd.dataOutRequests).toEqual([]);
    expect((await lb.run({ cdb: read10(), nexus: B })).status).toBe(Status.GOOD);
    expect((await write(A)).status).toBe(Status.GOOD);
    // The same initiator port through another target port is another I_T nexus.
    expect((await write(A2)).status).toBe(Status.RESERVATION_CONFLICT);
  });

  it('PREEMPT: the preempted I_T nexus gets REGISTRATIONS PREEMPTED; READ KEYS shows it gone', async () => {
    await prout(A, 0, 0, basic(0, 0xa));
    await prout(B, 0, 0, basic(0, 0xb));
    await prout(A, 1, 3, basic(0xa, 0));
    expect((await prout(B, 4, 3, basic(0xb, 0xa))).status).toBe(Status.GOOD);
    expect(kcq(await lb.run({ cdb: [0x00], nexus: A }))).toBe('06/2a/05');
    expect((await lb.run({ cdb: [0x00], nexus: A })).status).toBe(Status.GOOD);
    const keys = await lb.run({ cdb: prinCdb(0), nexus: A });
    expect(keys.data!.toString('hex')).toBe(`00000003` + `00000008` + key(0xb));
    // B holds EXCLUSIVE ACCESS now: A, no longer registered, cannot even read.
    expect((await lb.run({ cdb: read10(), nexus: A })).status).toBe(Status.RESERVATION_CONFLICT);
  });

  it('CLEAR: RESERVATIONS PREEMPTED for the other registrants, not the issuer', async () => {
    await prout(A, 0, 0, basic(0, 0xa));
    await prout(B, 0, 0, basic(0, 0xb));
    expect((await prout(A, 3, 0, basic(0xa, 0))).status).toBe(Status.GOOD);
    expect(kcq(await lb.run({ cdb: [0x00], nexus: B }))).toBe('06/2a/03');
    expect((await lb.run({ cdb: [0x00], nexus: A })).status).toBe(Status.GOOD);
  });

  it('RELEASE of a registrants-only reservation: RESERVATIONS RELEASED, on every port of an ALL_TG_PT registrant', async () => {
    await prout(A, 0, 0, basic(0, 0xa, 0x04));
    await prout(B, 0, 0, basic(0, 0xb));
    await prout(B, 1, 5, basic(0xb, 0));
    expect((await prout(B, 2, 5, basic(0xb, 0))).status).toBe(Status.GOOD);
    expect(kcq(await lb.run({ cdb: [0x00], nexus: A }))).toBe('06/2a/04');
    expect(kcq(await lb.run({ cdb: [0x00], nexus: A2 }))).toBe('06/2a/04');
    expect((await lb.run({ cdb: [0x00], nexus: B })).status).toBe(Status.GOOD);
  });

  it('PREEMPT AND ABORT aborts the preempted I_T nexus’s tasks and completes after them', async () => {
    await prout(A, 0, 0, basic(0, 0xa));
    await prout(B, 0, 0, basic(0, 0xb));
    await prout(A, 1, 1, basic(0xa, 0));
    const held = lb.command({ cdb: write10(), nexus: A, dataOut: Buffer.alloc(512, 7), hold: true });
    const pending = lb.start(held);
    await held.dataOutRequested;
    const paa = await prout(B, 5, 1, basic(0xb, 0xa));
    expect(paa.status).toBe(Status.GOOD);
    expect(held.aborted).toBe(true);
    const c = await pending;
    expect(c.aborted).toBe(true);
    const data = await lb.run({ cdb: read10(), nexus: B });
    expect(data.data!.every((x) => x === 0)).toBe(true);
  });

  it('PROUT errors: short parameter list, invalid TYPE, invalid service action', async () => {
    const short = await lb.run({ cdb: proutCdb(0, 0, 0), nexus: A });
    expect(kcq(short)).toBe('05/1a/00');
    const badType = await prout(A, 1, 2, basic(0, 0));
    expect(kcq(badType)).toBe('05/24/00');
    const badSa = await lb.run({ cdb: proutCdb(8, 0), nexus: A, dataOut: basic(0, 0) });
    expect(kcq(badSa)).toBe('05/24/00');
    for (let sa = 4; sa < 0x20; sa++)
      expect(kcq(await lb.run({ cdb: prinCdb(sa), nexus: A })), `PRIN ${sa}`).toBe('05/24/00');
  });

  it('READ KEYS with a short allocation length reports the full ADDITIONAL LENGTH', async () => {
    await prout(A, 0, 0, basic(0, 0xa));
    await prout(B, 0, 0, basic(0, 0xb));
    const c = await lb.run({ cdb: prinCdb(0, 12), nexus: A });
    expect(c.data!.toString('hex')).toBe(`00000002` + `00000010` + key(0xa).slice(0, 8));
  });

  it('RESERVE(6): others conflict except INQUIRY/REPORT LUNS/REQUEST SENSE; RELEASE from them is a no-op', async () => {
    expect((await lb.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: A })).status).toBe(Status.GOOD);
    expect((await lb.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: A })).status).toBe(Status.GOOD);
    expect((await lb.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: B })).status).toBe(Status.RESERVATION_CONFLICT);
    expect((await lb.run({ cdb: [0x00], nexus: B })).status).toBe(Status.RESERVATION_CONFLICT);
    expect((await lb.run({ cdb: [0x12, 0, 0, 0, 36, 0], nexus: B })).status).toBe(Status.GOOD);
    expect((await lb.run({ cdb: [0x17, 0, 0, 0, 0, 0], nexus: B })).status).toBe(Status.GOOD);
    expect((await write(B)).status).toBe(Status.RESERVATION_CONFLICT);
    expect((await write(A)).status).toBe(Status.GOOD);
    // SPC-4 5.13.3: persistent reservation commands conflict with it, even from its holder.
    expect((await lb.run({ cdb: prinCdb(0), nexus: A })).status).toBe(Status.RESERVATION_CONFLICT);
    expect((await prout(A, 0, 0, basic(0, 1))).status).toBe(Status.RESERVATION_CONFLICT);
    expect((await lb.run({ cdb: [0x17, 0, 0, 0, 0, 0], nexus: A })).status).toBe(Status.GOOD);
    expect((await lb.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: B })).status).toBe(Status.GOOD);
  });

  it('RESERVE(10)/RELEASE(10) work the same; third-party reservations are not supported', async () => {
    expect((await lb.run({ cdb: [0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0], nexus: A })).status).toBe(Status.GOOD);
    expect((await lb.run({ cdb: [0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0], nexus: B })).status).toBe(
      Status.RESERVATION_CONFLICT,
    );
    expect(kcq(await lb.run({ cdb: [0x57, 0x10, 0, 5, 0, 0, 0, 0, 0, 0], nexus: A }))).toBe('05/24/00');
    expect((await lb.run({ cdb: [0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0], nexus: A })).status).toBe(Status.GOOD);
  });

  it('RESERVE(6)/RELEASE(6) conflict while any I_T nexus is registered (SPC-4 5.13.3)', async () => {
    await prout(B, 0, 0, basic(0, 0xb));
    expect((await lb.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: A })).status).toBe(Status.RESERVATION_CONFLICT);
    expect((await lb.run({ cdb: [0x17, 0, 0, 0, 0, 0], nexus: B })).status).toBe(Status.RESERVATION_CONFLICT);
  });

  it('a LOGICAL UNIT RESET releases the SPC-2 reservation and keeps the persistent one', async () => {
    await lb.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: A });
    expect(await lb.tmf(Tmf.LOGICAL_UNIT_RESET, { nexus: B })).toBe(0);
    for (const n of [A, B]) expect(kcq(await lb.run({ cdb: [0x00], nexus: n }))).toBe('06/29/03');
    expect((await write(B)).status).toBe(Status.GOOD);

    await prout(A, 0, 0, basic(0, 0xa));
    await prout(A, 1, 3, basic(0xa, 0));
    await lb.tmf(Tmf.LOGICAL_UNIT_RESET, { nexus: B });
    await lb.run({ cdb: [0x00], nexus: B });
    expect((await write(B)).status).toBe(Status.RESERVATION_CONFLICT);
  });

  it('the loss of the holder’s I_T nexus releases its SPC-2 reservation; registrations stay', async () => {
    await lb.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: A });
    lb.target.nexusLost(A, 'connection-loss');
    await new Promise((r) => setTimeout(r, 0));
    expect((await lb.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: B })).status).toBe(Status.GOOD);
    await lb.run({ cdb: [0x17, 0, 0, 0, 0, 0], nexus: B });

    await prout(B, 0, 0, basic(0, 0xb));
    lb.target.nexusLost(B, 'logout');
    expect(lb.lu.reservations.state.registrations).toHaveLength(1);
  });

  it('without an APTPL file: PTPL_C is clear and APTPL = 1 is INVALID FIELD IN PARAMETER LIST', async () => {
    const caps = await lb.run({ cdb: prinCdb(2), nexus: A });
    expect(caps.data![2]! & 0x01).toBe(0);
    const r = await prout(A, 0, 0, basic(0, 0xa, 0x01));
    expect(kcq(r)).toBe('05/26/00');
    expect(lb.lu.reservations.state.registrations).toEqual([]);
  });

  it('a loss of another I_T nexus leaves the SPC-2 reservation alone', async () => {
    await lb.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: A });
    lb.target.nexusLost(B, 'connection-loss');
    await new Promise((r) => setTimeout(r, 0));
    expect(lb.lu.reservations.state.spc2?.holder.initiator).toBe(A.initiatorName);
  });
});

describe('APTPL across a restart', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-pr-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const lu = (file: string) =>
    new LogicalUnit(new MemoryDevice(1 << 20), { volumeId: 'vol-aptpl', blockSize: 512, aptplFile: file });

  it('registrations and the reservation survive when APTPL is set, and only then', async () => {
    const file = path.join(dir, 'pr', 'vol-aptpl.json');
    const one = lu(file);
    const r = one.reservations;
    const req = (sa: number, n: typeof A, o: Record<string, unknown>) => ({
      serviceAction: sa as 0,
      nexus: { initiator: n.initiatorName, isid: n.isid, relativePortId: n.targetPort.relativePortId },
      scope: 0,
      type: 0,
      key: key(0),
      serviceActionKey: key(0),
      specIPt: false,
      allTgPt: false,
      aptpl: false,
      transportIds: [],
      unreg: false,
      relativePortId: 0,
      ...o,
    });
    const cmd = lb0();
    await r.persistentReserveOut(cmd, req(0, A, { serviceActionKey: key(0xa) }));
    expect(fs.existsSync(file)).toBe(false);
    await r.persistentReserveOut(cmd, req(0, A, { key: key(0xa), serviceActionKey: key(0xa1), aptpl: true }));
    await r.persistentReserveOut(cmd, req(1, A, { key: key(0xa1), type: 1 }));
    await r.reserve(B); // SPC-2 state conflicts here (registered) and would never be persisted anyway
    expect(fs.existsSync(file)).toBe(true);

    const reopened = lu(file).reservations;
    expect(reopened.persistentReserveIn(2)[2]! & 0x01).toBe(1);
    const two = reopened.state;
    expect(two.registrations.map((x) => x.key)).toEqual([key(0xa1)]);
    expect(two.reservation?.type).toBe(1);
    expect(two.aptpl).toBe(true);
    expect(two.spc2).toBeNull();

    await r.persistentReserveOut(
      cmd,
      req(0, A, { key: key(0xa1), serviceActionKey: key(0xa2), aptpl: false }),
    );
    expect(fs.existsSync(file)).toBe(false);
    expect(lu(file).reservations.state.registrations).toEqual([]);
  });

  it('an unreadable state file stops the LU from starting', () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, '{"generation": "x"}');
    expect(() => lu(file)).toThrow(/persistent reservation state is unreadable/);
  });
});

/** A command object for direct calls to LuReservations (never in a task set). */
function lb0() {
  return new Loopback().command({ cdb: [0x5f] });
}
