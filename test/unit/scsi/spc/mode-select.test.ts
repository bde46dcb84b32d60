// MODE SELECT(6/10) (SPC-4 6.9, 6.10, 7.5): changeable D_SENSE, SWP, TAS, WCE; everything
// else is checked against the current values; MODE PARAMETERS CHANGED to the other nexuses.
import { beforeEach, describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../../../src/backstore/block-device.js';
import { MemoryDevice } from '../../../../src/backstore/memory.js';
import { cdb10, cdb16, Loopback, makeNexus } from '../../../helpers/loopback.js';
import { decodeSense, kcq } from '../../../helpers/wire.js';

const BS = 512;

/** MODE SENSE(6) of one page, DBD = 1; returns the page bytes. */
async function sensePage(h: Loopback, page: number, pc = 0): Promise<Buffer> {
  const c = await h.run({ cdb: [0x1a, 0x08, (pc << 6) | page, 0, 0xff, 0] });
  expect(kcq(c)).toBe('GOOD');
  const d = c.data!;
  return d.subarray(4 + d[3]!, 4 + d[3]! + 2 + d[5 + d[3]!]!);
}

/** A MODE SELECT(6) parameter list: 4-byte header, no block descriptor, the pages. */
function list6(...pages: Buffer[]): Buffer {
  return Buffer.concat([Buffer.alloc(4), ...pages]);
}

function select6(h: Loopback, data: Buffer, byte1 = 0x10, n = h.nexus) {
  return h.run({ cdb: [0x15, byte1, 0, 0, data.length, 0], dataOut: data, nexus: n });
}

describe('MODE SELECT', () => {
  let h: Loopback;
  beforeEach(async () => {
    h = new Loopback({ blocks: 1024 });
    await h.ready();
  });

  it('SWP = 1 write-protects the LU: writes get DATA PROTECT 07/27/02, MODE SENSE sets WP', async () => {
    const control = Buffer.from(await sensePage(h, 0x0a));
    control[4] |= 0x08;
    expect(kcq(await select6(h, list6(control)))).toBe('GOOD');
    expect(kcq(await h.run({ cdb: cdb10(0x2a, 0, 0, 1), dataOut: Buffer.alloc(BS) }))).toBe('07/27/02');
    expect(kcq(await h.run({ cdb: cdb10(0x28, 0, 0, 1) }))).toBe('GOOD');
    for (const write of [
      cdb16(0x93, 0, 0, 1),
      [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0],
      cdb16(0x8b, 0, 0, 1),
    ]) {
      expect(kcq(await h.run({ cdb: write, dataOut: Buffer.alloc(2 * BS) }))).toBe('07/27/02');
    }
    const ms = (await h.run({ cdb: [0x1a, 0x08, 0x3f, 0, 0xff, 0] })).data!;
    expect(ms[2]! & 0x80).toBe(0x80);
    control[4] &= ~0x08;
    expect(kcq(await select6(h, list6(control)))).toBe('GOOD');
    expect(kcq(await h.run({ cdb: cdb10(0x2a, 0, 0, 1), dataOut: Buffer.alloc(BS) }))).toBe('GOOD');
  });

  it('establishes MODE PARAMETERS CHANGED for every other nexus, not the one that changed them', async () => {
    const other = await h.ready(makeNexus('iqn.2026-11.test:other'));
    const control = Buffer.from(await sensePage(h, 0x0a));
    control[5] |= 0x40; // TAS
    expect(kcq(await select6(h, list6(control)))).toBe('GOOD');
    expect(h.lu.mode.tas).toBe(true);
    expect(kcq(await h.run({ cdb: [0, 0, 0, 0, 0, 0], nexus: other }))).toBe('06/2a/01');
    expect(kcq(await h.run({ cdb: [0, 0, 0, 0, 0, 0] }))).toBe('GOOD');
    // The same values again change nothing and establish nothing.
    expect(kcq(await select6(h, list6(control)))).toBe('GOOD');
    expect(kcq(await h.run({ cdb: [0, 0, 0, 0, 0, 0], nexus: other }))).toBe('GOOD');
  });

  it('D_SENSE = 1 switches sense data to descriptor format', async () => {
    const control = Buffer.from(await sensePage(h, 0x0a));
    control[2] |= 0x04;
    expect(kcq(await select6(h, list6(control)))).toBe('GOOD');
    const c = await h.run({ cdb: cdb10(0x28, 0, 5000, 1) });
    expect(c.sense![0]).toBe(0x72);
    expect(kcq(c)).toBe('05/21/00');
  });

  it('a change to a field that is not changeable is INVALID FIELD IN PARAMETER LIST, pointing at it', async () => {
    const control = Buffer.from(await sensePage(h, 0x0a));
    control[3] = 0x00; // QUEUE ALGORITHM MODIFIER: not changeable
    const c = await select6(h, list6(control));
    expect(kcq(c)).toBe('05/26/00');
    expect(decodeSense(c.sense!).field).toEqual({ inCdb: false, byte: 4 + 3, bit: 4 });
    const caching = Buffer.from(await sensePage(h, 0x08));
    caching[2] |= 0x01; // RCD
    expect(kcq(await select6(h, list6(caching)))).toBe('05/26/00');
  });

  it('refuses pages we do not have, wrong page lengths, PS = 1 and a medium type', async () => {
    const control = Buffer.from(await sensePage(h, 0x0a));
    expect(kcq(await select6(h, list6(Buffer.from([0x02, 0x0e, ...Buffer.alloc(14)]))))).toBe('05/26/00');
    const short = Buffer.from(control.subarray(0, 10));
    short[1] = 8;
    expect(kcq(await select6(h, list6(short)))).toBe('05/26/00');
    const ps = Buffer.from(control);
    ps[0] |= 0x80;
    expect(kcq(await select6(h, list6(ps)))).toBe('05/26/00');
    const typed = list6(control);
    typed[1] = 0x01;
    expect(kcq(await select6(h, typed))).toBe('05/26/00');
    expect(h.lu.mode).toEqual({ wce: true, dSense: false, swp: false, tas: false });
  });

  it('a truncated page is PARAMETER LIST LENGTH ERROR; length 0 is GOOD', async () => {
    const control = await sensePage(h, 0x0a);
    expect(kcq(await select6(h, list6(control).subarray(0, 10)))).toBe('05/1a/00');
    expect(kcq(await h.run({ cdb: [0x15, 0x10, 0, 0, 0, 0], expectedLength: 0 }))).toBe('GOOD');
  });

  it('SP = 1 is INVALID FIELD IN CDB (no saved pages); PF = 0 likewise', async () => {
    const control = await sensePage(h, 0x0a);
    expect(kcq(await select6(h, list6(control), 0x11))).toBe('05/24/00');
    expect(kcq(await select6(h, list6(control), 0x00))).toBe('05/24/00');
  });

  it('MODE SELECT(10) with a block descriptor of the LU own capacity and block size', async () => {
    const control = Buffer.from(await sensePage(h, 0x0a));
    control[4] |= 0x08;
    const header = Buffer.alloc(8);
    header.writeUInt16BE(8, 6);
    const bd = Buffer.alloc(8);
    bd.writeUInt32BE(1024, 0);
    bd.writeUIntBE(BS, 5, 3);
    const data = Buffer.concat([header, bd, control]);
    expect(kcq(await h.run({ cdb: [0x55, 0x10, 0, 0, 0, 0, 0, 0, data.length, 0], dataOut: data }))).toBe(
      'GOOD',
    );
    expect(h.lu.mode.swp).toBe(true);
    bd.writeUIntBE(4096, 5, 3);
    const bad = Buffer.concat([header, bd, control]);
    expect(kcq(await h.run({ cdb: [0x55, 0x10, 0, 0, 0, 0, 0, 0, bad.length, 0], dataOut: bad }))).toBe(
      '05/26/00',
    );
  });

  it('WCE = 0 makes every write write-through (FUA), WCE = 1 restores the cache', async () => {
    const mem = new MemoryDevice(1024 * BS);
    const fua: boolean[] = [];
    const spy: BlockDevice = {
      size: mem.size,
      description: 'spy',
      read: (o, l) => mem.read(o, l),
      write: (o, d, f) => {
        fua.push(f);
        return mem.write(o, d, f);
      },
      flush: () => mem.flush(),
      close: () => mem.close(),
    };
    const s = new Loopback({ device: spy });
    await s.ready();
    const caching = Buffer.from(await sensePage(s, 0x08));
    expect(caching[2]! & 0x04).toBe(0x04);
    expect((await sensePage(s, 0x08, 1))[2]! & 0x04).toBe(0x04); // changeable
    await s.run({ cdb: cdb10(0x2a, 0, 0, 1), dataOut: Buffer.alloc(BS) });
    caching[2] &= ~0x04;
    expect(kcq(await select6(s, list6(caching)))).toBe('GOOD');
    await s.run({ cdb: cdb10(0x2a, 0, 0, 1), dataOut: Buffer.alloc(BS) });
    await s.run({ cdb: cdb10(0x41, 0, 0, 4), dataOut: Buffer.alloc(BS) });
    expect(fua).toEqual([false, true, true]);
  });
});
