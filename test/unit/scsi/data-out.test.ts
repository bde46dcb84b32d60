// The gate's data-out handling (FCP-4 9.4.2 as libiscsi applies it to iSCSI, RFC 7143 11.4.5):
// when EDTL is shorter than the CDB's transfer, a READ/WRITE stops at EDTL if EDTL is a whole
// number of blocks, else it fails with INVALID FIELD IN COMMAND INFORMATION UNIT (0Eh/03h);
// either way the completion reports the CDB's transfer length so the transport can compute
// the residual overflow.
import { beforeEach, describe, expect, it } from 'vitest';
import { cdb, Loopback, LoopbackCommand, pattern } from '../../helpers/loopback.js';
import { kcq, Status } from '../../helpers/wire.js';

const BS = 512;

describe('data-out residuals', () => {
  let lo: Loopback;
  const old = pattern(4 * BS, 1);
  const fresh = pattern(4 * BS, 2);
  beforeEach(async () => {
    lo = new Loopback({ blockSize: BS });
    await lo.ready();
    await lo.run({ cdb: cdb.rw(0x2a, 0, 4), dataOut: old });
  });
  const medium = async () => (await lo.run({ cdb: cdb.rw(0x28, 0, 4) })).data!;

  it.each([
    ['WRITE(6)', 0x0a],
    ['WRITE(10)', 0x2a],
    ['WRITE(12)', 0xaa],
    ['WRITE(16)', 0x8a],
  ])(
    '%s of 4 blocks with EDTL = 2 blocks: the first 2 are written, GOOD, transfer length 4 blocks',
    async (_n, op) => {
      const cmd = lo.command({ cdb: cdb.rw(op, 0, 4), dataOut: fresh, expectedLength: 2 * BS });
      const c = await lo.start(cmd);
      expect(c.status).toBe(Status.GOOD);
      expect(c.transferLength).toBe(4 * BS);
      expect(cmd.dataOutRequests).toEqual([2 * BS]);
      expect((await medium()).equals(Buffer.concat([fresh.subarray(0, 2 * BS), old.subarray(2 * BS)]))).toBe(
        true,
      );
    },
  );

  it.each([1, BS - 1, BS + 1, 2 * BS + 256, 4 * BS - 1])(
    'WRITE(10) of 4 blocks with EDTL = %i bytes (a partial block) → 05/0E/03, nothing written',
    async (edtl) => {
      const cmd = lo.command({ cdb: cdb.rw(0x2a, 0, 4), dataOut: fresh, expectedLength: edtl });
      const c = await lo.start(cmd);
      expect(kcq(c)).toBe('05/0e/03');
      expect(c.transferLength).toBe(4 * BS);
      expect(cmd.dataOutRequests).toEqual([]);
      expect((await medium()).equals(old)).toBe(true);
    },
  );

  it('WRITE(10) of 1 block with EDTL = 0: nothing is asked or written, GOOD, transfer length 1 block', async () => {
    const cmd = lo.command({ cdb: cdb.rw(0x2a, 0, 1), dataOut: Buffer.alloc(0), expectedLength: 0 });
    const c = await lo.start(cmd);
    expect(c.status).toBe(Status.GOOD);
    expect(c.transferLength).toBe(BS);
    expect(cmd.dataOutRequests).toEqual([]);
    expect((await medium()).equals(old)).toBe(true);
  });

  it('WRITE(10) without the W bit counts as EDTL 0 for data-out', async () => {
    const cmd = lo.command({ cdb: cdb.rw(0x2a, 0, 2), write: false, read: true, expectedLength: 2 * BS });
    const c = await lo.start(cmd);
    expect(c.status).toBe(Status.GOOD);
    expect(c.transferLength).toBe(2 * BS);
    expect(cmd.dataOutRequests).toEqual([]);
    expect((await medium()).equals(old)).toBe(true);
  });

  it('EDTL larger than the transfer: only the transfer length is asked for', async () => {
    const cmd = lo.command({ cdb: cdb.rw(0x2a, 0, 2), dataOut: fresh, expectedLength: 4 * BS + 17 });
    const c = await lo.start(cmd);
    expect(c.status).toBe(Status.GOOD);
    expect(c.transferLength).toBe(2 * BS);
    expect(cmd.dataOutRequests).toEqual([2 * BS]);
  });

  it('VERIFY(10) BYTCHK=1 with EDTL short by whole blocks cannot be shortened → 05/0E/03', async () => {
    const cmd = lo.command({ cdb: cdb.rw(0x2f, 0, 4, 0x02), dataOut: old, expectedLength: 2 * BS });
    const c = await lo.start(cmd);
    expect(kcq(c)).toBe('05/0e/03');
    expect(c.transferLength).toBe(4 * BS);
    expect(cmd.dataOutRequests).toEqual([]);
  });

  it('a READ reports its full transfer length whatever the EDTL (the transport truncates)', async () => {
    const c = await lo.run({ cdb: cdb.rw(0x28, 0, 4), expectedLength: BS });
    expect(c.status).toBe(Status.GOOD);
    expect(c.transferLength).toBe(4 * BS);
  });

  it('a WRITE that completes GOOD reports the CDB transfer length', async () => {
    const c = await lo.run({ cdb: cdb.rw(0x8a, 0, 3), dataOut: pattern(3 * BS) });
    expect(c.transferLength).toBe(3 * BS);
  });

  it('data-out the transport cannot deliver → 0B/4B/00 DATA PHASE ERROR, nothing written', async () => {
    class Broken extends LoopbackCommand {
      override async receiveDataOut(): Promise<Buffer> {
        throw new Error('sequence broken');
      }
    }
    const cmd = new Broken(
      { cdb: cdb.rw(0x2a, 0, 4), dataOut: fresh },
      { nexus: lo.nexus, lun: 0, tag: 999 },
    );
    const c = await lo.start(cmd);
    expect(kcq(c)).toBe('0b/4b/00');
    expect(c.aborted).toBeFalsy();
    expect((await medium()).equals(old)).toBe(true);
  });
});
