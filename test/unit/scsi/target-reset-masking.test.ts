// Issue #13, finding 6: TARGET WARM/COLD RESET resets only the LUs the caller can see (LUN
// masking); an LU masked from it keeps its tasks, SPC-2 reservation and unit attentions, and no
// reset reaches the other nodes for it. Regression test: before the fix every LU was reset.
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import type { CommandForwarder, ResetUnitAttention } from '../../../src/scsi/forwarding.js';
import { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import { cdb, isSettled, Loopback, makeNexus, pattern, TmfResult } from '../../helpers/loopback.js';
import { kcq, Status } from '../../helpers/wire.js';

const BS = 512;
const SEES_ALL = makeNexus('iqn.2024-01.org.tandem:all', '400001370a01');
const SEES_ONE = makeNexus('iqn.2024-01.org.tandem:one', '400001370a02');
const OTHER = makeNexus('iqn.2024-01.org.tandem:other', '400001370a03');

class PeerResets implements CommandForwarder {
  readonly volumes: string[] = [];
  forward(): never {
    throw new Error('not used');
  }
  async resetPeers(volume: string, _ua: ResetUnitAttention): Promise<void> {
    this.volumes.push(volume);
  }
}

for (const [name, fn] of [
  ['TARGET WARM RESET', 6],
  ['TARGET COLD RESET', 7],
] as const) {
  describe(`${name} with LUN masking`, { timeout: 5000 }, () => {
    it('resets the LUs the caller sees, here and on the peers; a masked LU is untouched', async () => {
      const lo = new Loopback({ blocks: 64 });
      const peers = new PeerResets();
      const lu1 = new LogicalUnit(
        new MemoryDevice(64 * BS),
        { volumeId: 'vol-1', blockSize: BS },
        {
          forwarder: peers,
        },
      );
      lo.target.addLun(1, lu1);
      // LUN 2 has a peer forwarder too: a reset of it would reach the other nodes.
      const lu2 = new LogicalUnit(
        new MemoryDevice(64 * BS),
        { volumeId: 'vol-2', blockSize: BS },
        {
          forwarder: peers,
        },
      );
      lo.target.addLun(2, lu2);
      lo.target.lunMask = (i) => (i === SEES_ONE.initiatorName ? new Set([1]) : undefined);
      for (const n of [SEES_ALL, OTHER]) for (const lun of [0, 1, 2]) await lo.ready(n, lun);
      await lo.ready(SEES_ONE, 1);

      // SEES_ALL has a write in flight on LUN 2 (held in its data-out) and one on LUN 1.
      const onLun2 = lo.command({
        cdb: cdb.rw(0x2a, 5, 1),
        dataOut: pattern(BS, 4),
        hold: true,
        nexus: SEES_ALL,
        lun: 2,
      });
      const onLun0 = lo.command({
        cdb: cdb.rw(0x2a, 5, 1),
        dataOut: pattern(BS, 4),
        hold: true,
        nexus: SEES_ALL,
        lun: 0,
      });
      const pLun2 = lo.start(onLun2);
      const pLun0 = lo.start(onLun0);
      await onLun2.dataOutRequested;
      await onLun0.dataOutRequested;
      // OTHER holds an SPC-2 reservation of LUN 2 and of LUN 1 (a logical unit reset ends one).
      expect((await lo.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: OTHER, lun: 2 })).status).toBe(Status.GOOD);
      expect((await lo.run({ cdb: [0x16, 0, 0, 0, 0, 0], nexus: OTHER, lun: 1 })).status).toBe(Status.GOOD);

      expect(await lo.tmf(fn, { nexus: SEES_ONE, lun: 1 })).toBe(TmfResult.FUNCTION_COMPLETE);

      // LUN 1, the one the caller sees: reset here and on the peers; the UA for every nexus.
      expect(peers.volumes).toEqual(['vol-1']);
      expect(kcq(await lo.run({ cdb: cdb.testUnitReady(), nexus: SEES_ALL, lun: 1 }))).toBe('06/29/00');
      expect(kcq(await lo.run({ cdb: cdb.testUnitReady(), nexus: OTHER, lun: 1 }))).toBe('06/29/00');
      // ... and OTHER's SPC-2 reservation of it ended: SEES_ALL writes LUN 1 again.
      const w1 = await lo.run({ cdb: cdb.rw(0x2a, 0, 1), dataOut: pattern(BS, 1), nexus: SEES_ALL, lun: 1 });
      expect(w1.status).toBe(Status.GOOD);

      // LUN 0 is masked from the caller: its task runs on, no UA.
      onLun0.release();
      expect((await pLun0).status).toBe(Status.GOOD);
      // LUN 2 likewise, and OTHER's reservation of it still holds.
      expect(await isSettled(pLun2)).toBe(false);
      onLun2.release();
      expect((await pLun2).status).toBe(Status.GOOD);
      expect(onLun2.aborted).toBe(false);
      for (const n of [SEES_ALL, OTHER]) {
        expect((await lo.run({ cdb: cdb.testUnitReady(), nexus: n, lun: 0 })).status).toBe(Status.GOOD);
      }
      expect((await lo.run({ cdb: cdb.testUnitReady(), nexus: OTHER, lun: 2 })).status).toBe(Status.GOOD);
      const w2 = await lo.run({ cdb: cdb.rw(0x2a, 0, 1), dataOut: pattern(BS, 1), nexus: SEES_ALL, lun: 2 });
      expect(w2.status).toBe(Status.RESERVATION_CONFLICT);
    });
  });
}
