// The multipath client's policy: dm-multipath `prio alua` priorities, which path takes the next
// command, and what each answer makes the client do (retry, fail over, return).
import { describe, expect, it } from 'vitest';
import {
  ConnectionClosedError,
  InitiatorError,
  type ScsiResult,
  TimeoutError,
} from '../../../helpers/initiator/index.js';
import { aluaPriority, choosePath, classify, isUsable, type PathState } from '../../../helpers/multipath.js';

function result(status: number, sense?: [number, number, number]): ScsiResult {
  return {
    itt: 1,
    status,
    response: 0,
    sense: sense
      ? {
          responseCode: 0x70,
          format: 'fixed',
          deferred: false,
          key: sense[0],
          asc: sense[1],
          ascq: sense[2],
          descriptors: [],
          descriptorTypes: [],
          raw: Buffer.alloc(18),
        }
      : undefined,
    data: Buffer.alloc(0),
    residualOverflow: false,
    residualUnderflow: false,
    residualCount: 0,
    bidiResidualOverflow: false,
    bidiResidualUnderflow: false,
    bidiResidualCount: 0,
    statusInDataIn: false,
    dataInPdus: 0,
    r2ts: 0,
    dataOutPdus: 0,
  };
}

describe('aluaPriority (multipath-tools prioritizers/alua.c)', () => {
  it('A/O 50, A/NO 10, LBA-dependent 5, Standby 1, the rest 0', () => {
    const prio = (s: PathState) => aluaPriority(s);
    expect(prio('active-optimized')).toBe(50);
    expect(prio('active-non-optimized')).toBe(10);
    expect(prio('lba-dependent')).toBe(5);
    expect(prio('standby')).toBe(1);
    for (const s of ['unavailable', 'transitioning', 'offline', 'reserved', 'unknown', 'failed'] as const)
      expect(prio(s), s).toBe(0);
  });

  it('PREF counts only with exclusive_pref_bit', () => {
    expect(aluaPriority('active-non-optimized', true)).toBe(10);
    expect(aluaPriority('active-non-optimized', true, true)).toBe(90);
  });
});

describe('choosePath', () => {
  const p = (name: string, state: PathState, preferred = false) => ({ name, state, preferred });

  it('A/O over A/NO over Standby, whatever the order', () => {
    expect(
      choosePath([p('a', 'standby'), p('b', 'active-non-optimized'), p('c', 'active-optimized')])?.name,
    ).toBe('c');
    expect(choosePath([p('a', 'standby'), p('b', 'active-non-optimized')])?.name).toBe('b');
    expect(choosePath([p('a', 'standby')])?.name).toBe('a');
  });

  it('Unavailable, Transitioning, Offline and failed paths are never chosen', () => {
    for (const s of ['unavailable', 'transitioning', 'offline', 'failed'] as const) {
      expect(isUsable(s), s).toBe(false);
      expect(choosePath([p('a', s)]), s).toBeUndefined();
      expect(choosePath([p('a', s), p('b', 'standby')])?.name, s).toBe('b');
    }
  });

  it('a path not read yet is tried, after every known usable one', () => {
    expect(choosePath([p('a', 'unknown'), p('b', 'standby')])?.name).toBe('b');
    expect(choosePath([p('a', 'unknown'), p('b', 'unavailable')])?.name).toBe('a');
  });

  it('ties go to the first path given (failover policy)', () => {
    expect(choosePath([p('a', 'active-non-optimized'), p('b', 'active-non-optimized')])?.name).toBe('a');
  });

  it('skips paths already tried for the command', () => {
    const paths = [p('a', 'active-optimized'), p('b', 'active-non-optimized'), p('c', 'standby')];
    expect(choosePath(paths, new Set(['a']))?.name).toBe('b');
    expect(choosePath(paths, new Set(['a', 'b']))?.name).toBe('c');
    expect(choosePath(paths, new Set(['a', 'b', 'c']))).toBeUndefined();
  });

  it('PREF breaks ties only with exclusive_pref_bit', () => {
    const paths = [p('a', 'active-non-optimized'), p('b', 'active-non-optimized', true)];
    expect(choosePath(paths)?.name).toBe('a');
    expect(choosePath(paths, new Set(), true)?.name).toBe('b');
  });
});

describe('classify', () => {
  it('GOOD and CONDITION MET are done', () => {
    expect(classify(result(0x00))).toEqual({ kind: 'done', outcome: 'good' });
    expect(classify(result(0x04))).toEqual({ kind: 'done', outcome: 'good' });
  });

  it('RESERVATION CONFLICT is returned, not retried elsewhere', () => {
    expect(classify(result(0x18))).toEqual({ kind: 'done', outcome: 'reservation-conflict' });
  });

  it('ASYMMETRIC ACCESS STATE CHANGED: same path, after re-reading the states', () => {
    expect(classify(result(0x02, [0x06, 0x2a, 0x06]))).toMatchObject({
      kind: 'retry-same',
      refresh: true,
      unitAttention: { key: 6, asc: 0x2a, ascq: 0x06 },
    });
    expect(classify(result(0x02, [0x06, 0x2a, 0x07]))).toMatchObject({ kind: 'retry-same', refresh: true });
  });

  it('other unit attentions: same path, no refresh', () => {
    for (const [asc, ascq] of [
      [0x29, 0x00],
      [0x29, 0x07],
      [0x2a, 0x05],
      [0x2a, 0x03],
      [0x3f, 0x0e],
    ] as const)
      expect(classify(result(0x02, [0x06, asc, ascq])), `${asc}/${ascq}`).toMatchObject({
        kind: 'retry-same',
        refresh: false,
      });
  });

  it('NOT READY 04h/0Ah, 0Bh, 0Ch: the path failed, in the state the sense names', () => {
    expect(classify(result(0x02, [0x02, 0x04, 0x0a]))).toMatchObject({
      kind: 'path-failed',
      state: 'transitioning',
    });
    expect(classify(result(0x02, [0x02, 0x04, 0x0b]))).toMatchObject({
      kind: 'path-failed',
      state: 'standby',
    });
    expect(classify(result(0x02, [0x02, 0x04, 0x0c]))).toMatchObject({
      kind: 'path-failed',
      state: 'unavailable',
    });
  });

  it('connection loss, timeout and other errors fail the path', () => {
    expect(classify(new ConnectionClosedError('x'))).toMatchObject({
      kind: 'path-failed',
      outcome: 'connection-lost',
      state: 'failed',
    });
    expect(classify(new TimeoutError('SCSI', 5000))).toMatchObject({
      kind: 'path-failed',
      outcome: 'timeout',
      state: 'failed',
    });
    expect(classify(new InitiatorError('x'))).toMatchObject({ kind: 'path-failed', outcome: 'error' });
  });

  it('BUSY and TASK SET FULL: same path after a pause', () => {
    expect(classify(result(0x08))).toMatchObject({ kind: 'retry-same', outcome: 'busy' });
    expect(classify(result(0x28))).toMatchObject({ kind: 'retry-same', outcome: 'busy' });
  });

  it('answers about the command, not the path, are returned', () => {
    expect(classify(result(0x02, [0x05, 0x24, 0x00]))).toEqual({ kind: 'done', outcome: 'check-condition' });
    expect(classify(result(0x02, [0x03, 0x11, 0x00]))).toEqual({ kind: 'done', outcome: 'check-condition' });
    expect(classify(result(0x02, [0x07, 0x27, 0x00]))).toEqual({ kind: 'done', outcome: 'check-condition' });
  });
});
