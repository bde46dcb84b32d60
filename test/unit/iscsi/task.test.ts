// R2T and Data-Out placement of one iSCSI task (src/iscsi/task.ts, RFC 7143 4.2.5.2, 11.7,
// 11.8): offsets, R2TSN, DataSN, unsolicited data, FirstBurstLength/MaxBurstLength.
import { describe, expect, it } from 'vitest';
import { RESERVED_TAG } from '../../../src/iscsi/pdu/bhs.js';
import { DataSequenceError, type IscsiTask } from '../../../src/iscsi/task.js';

import { type FakeSender, pattern, task } from './task-fixture.js';

/** Answers every outstanding R2T with Data-Out PDUs of `pduSize` bytes from `data`. */
function answer(t: IscsiTask, sender: FakeSender, data: Buffer, pduSize: number, from = 0): number {
  let done = from;
  while (done < sender.r2ts.length) {
    const r = sender.r2ts[done++]!;
    let sn = 0;
    for (let off = r.offset; off < r.offset + r.length; off += pduSize) {
      const n = Math.min(pduSize, r.offset + r.length - off);
      t.onDataOut(r.ttt, sn++, off, data.subarray(off, off + n));
    }
  }
  return done;
}

describe('IscsiTask data-out', () => {
  it('immediate data covering the transfer: no R2T, the data as sent', async () => {
    const data = pattern(4096);
    const { t, sender } = task({ expectedLength: 4096, immediateData: data, unsolicitedLimit: 4096 });
    const got = await t.receiveDataOut(4096);
    expect(got.equals(data)).toBe(true);
    expect(sender.r2ts).toEqual([]);
    expect(t.r2tCount).toBe(0);
  });

  it('InitialR2T=Yes, no immediate data: R2Ts of MaxBurstLength, R2TSN counting from 0, one at a time', async () => {
    const data = pattern(10_000);
    const { t, sender } = task({ expectedLength: 10_000, maxBurstLength: 4096, maxOutstandingR2T: 1 });
    const p = t.receiveDataOut(10_000);
    expect(sender.r2ts).toEqual([{ ttt: 100, r2tSN: 0, offset: 0, length: 4096 }]);
    let done = answer(t, sender, data, 1024);
    done = answer(t, sender, data, 1024, done);
    answer(t, sender, data, 1024, done);
    expect(sender.r2ts.map((r) => [r.r2tSN, r.offset, r.length])).toEqual([
      [0, 0, 4096],
      [1, 4096, 4096],
      [2, 8192, 1808],
    ]);
    expect((await p).equals(data)).toBe(true);
    expect(t.r2tCount).toBe(3);
    expect(t.awaitingDataOut).toBe(false);
  });

  it('MaxOutstandingR2T bounds the R2Ts in flight; each completed burst releases the next', () => {
    const { t, sender } = task({ expectedLength: 5 * 4096, maxBurstLength: 4096, maxOutstandingR2T: 2 });
    void t.receiveDataOut(5 * 4096);
    expect(sender.r2ts.map((r) => r.offset)).toEqual([0, 4096]);
    t.onDataOut(101, 0, 4096, pattern(4096)); // the second R2T completes first
    expect(sender.r2ts.map((r) => r.offset)).toEqual([0, 4096, 8192]);
  });

  it('immediate + unsolicited Data-Out up to FirstBurstLength, then R2Ts for the rest', async () => {
    const data = pattern(12_288);
    const first = 8192;
    const { t, sender } = task({
      expectedLength: data.length,
      immediateData: data.subarray(0, 2048),
      unsolicitedLimit: first,
      maxBurstLength: 4096,
    });
    expect(t.expectsUnsolicited).toBe(true);
    // Unsolicited Data-Out arrives before the engine asks (TTT reserved, DataSN from 0).
    t.onDataOut(RESERVED_TAG, 0, 2048, data.subarray(2048, 6144));
    const p = t.receiveDataOut(data.length);
    expect(sender.r2ts).toEqual([{ ttt: 100, r2tSN: 0, offset: first, length: 4096 }]);
    t.onDataOut(RESERVED_TAG, 1, 6144, data.subarray(6144, first));
    expect(t.expectsUnsolicited).toBe(false);
    answer(t, sender, data, 4096);
    expect((await p).equals(data)).toBe(true);
    expect(t.r2tCount).toBe(1);
  });

  it('the engine asking for less than EDTL: bytes beyond its length are discarded', async () => {
    const data = pattern(8192);
    const { t } = task({
      expectedLength: 8192,
      immediateData: data.subarray(0, 1024),
      unsolicitedLimit: 8192,
    });
    t.onDataOut(RESERVED_TAG, 0, 1024, data.subarray(1024, 8192));
    const got = await t.receiveDataOut(4096);
    expect(got.equals(data.subarray(0, 4096))).toBe(true);
  });

  const violations: [string, (t: IscsiTask, s: FakeSender) => void, RegExp][] = [
    [
      'unsolicited DataSN out of order',
      (t) => t.onDataOut(RESERVED_TAG, 1, 0, pattern(512)),
      /DataSN 1, expected 0/,
    ],
    [
      'unsolicited offset out of order',
      (t) => t.onDataOut(RESERVED_TAG, 0, 512, pattern(512)),
      /unsolicited Data-Out at offset 512, expected 0/,
    ],
    [
      'unsolicited data beyond FirstBurstLength',
      (t) => t.onDataOut(RESERVED_TAG, 0, 0, pattern(4096 + 512)),
      /beyond FirstBurstLength\/EDTL \(4608 > 4096\)/,
    ],
    ['an unknown TTT', (t) => t.onDataOut(7, 0, 0, pattern(512)), /unknown Target Transfer Tag 0x7/],
    [
      'solicited DataSN out of order',
      (t, s) => t.onDataOut(s.r2ts[0]!.ttt, 1, 4096, pattern(512)),
      /Data-Out DataSN 1, expected 0/,
    ],
    [
      'solicited offset outside the R2T',
      (t, s) => t.onDataOut(s.r2ts[0]!.ttt, 0, 0, pattern(512)),
      /Data-Out at offset 0, expected 4096/,
    ],
    [
      'more than the R2T asked for',
      (t, s) => t.onDataOut(s.r2ts[0]!.ttt, 0, 4096, pattern(4097)),
      /beyond the R2T desired length/,
    ],
  ];
  for (const [name, act, message] of violations) {
    it(`${name}: DataSequenceError, and the data-out fails with it`, async () => {
      const { t, sender } = task({ expectedLength: 8192, unsolicitedLimit: 4096, maxBurstLength: 4096 });
      const p = t.receiveDataOut(8192);
      p.catch(() => undefined);
      expect(sender.r2ts).toEqual([{ ttt: 100, r2tSN: 0, offset: 4096, length: 4096 }]);
      let err: unknown;
      try {
        act(t, sender);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DataSequenceError);
      expect((err as Error).message).toMatch(message);
      await expect(p).rejects.toBe(err);
      // Once failed, later PDUs are ignored and a new request fails the same way.
      expect(() => t.onDataOut(RESERVED_TAG, 0, 0, pattern(512))).not.toThrow();
      await expect(t.receiveDataOut(8192)).rejects.toBe(err);
    });
  }

  it('abort rejects a pending data-out and any later request', async () => {
    const { t, sender } = task({ expectedLength: 4096, maxBurstLength: 4096 });
    const p = t.receiveDataOut(4096);
    expect(sender.r2ts).toHaveLength(1);
    t.abort();
    expect(t.signal.aborted).toBe(true);
    await expect(p).rejects.toThrow(/aborted/);
    await expect(t.receiveDataOut(4096)).rejects.toThrow(/aborted/);
  });
});
