// RFC 1982 serial number arithmetic with SERIAL_BITS = 32 (RFC 7143 4.2.2.1: CmdSN, StatSN).
import { describe, expect, it } from 'vitest';
import { snAdd, snLe, snLt } from '../../../src/util/serial.js';

const HALF = 0x80000000;
const MAX = 0xffffffff;

describe('snLt / snLe', () => {
  it.each([
    [0, 1],
    [1, 2],
    [MAX, 0],
    [MAX - 5, 3],
    [0x7fffffff, HALF],
    [0, HALF - 1], // the farthest "after" that is still defined
    [HALF, MAX],
    [MAX, HALF - 2],
  ])('%i < %i, and not the other way round', (a, b) => {
    expect(snLt(a, b)).toBe(true);
    expect(snLt(b, a)).toBe(false);
    expect(snLe(a, b)).toBe(true);
    expect(snLe(b, a)).toBe(false);
  });

  it.each([0, 1, HALF, MAX])('%i is not less than itself but is ≤ itself', (a) => {
    expect(snLt(a, a)).toBe(false);
    expect(snLe(a, a)).toBe(true);
  });

  it.each([
    [0, HALF],
    [1, HALF + 1],
    [MAX, HALF - 1],
  ])('%i and %i are exactly 2^31 apart: undefined, neither is less (RFC 1982 3.2)', (a, b) => {
    expect(snLt(a, b)).toBe(false);
    expect(snLt(b, a)).toBe(false);
  });

  it('every step of a window that straddles the wrap compares in order', () => {
    let prev = MAX - 100;
    for (let i = 0; i < 200; i++) {
      const next = snAdd(prev, 1);
      expect(snLt(prev, next)).toBe(true);
      expect(snLt(next, prev)).toBe(false);
      expect(snLt(MAX - 100, next)).toBe(true);
      prev = next;
    }
  });
});

describe('snAdd', () => {
  it.each([
    [0, 1, 1],
    [MAX, 1, 0],
    [MAX - 1, 5, 3],
    [HALF, HALF, 0],
    [7, 0, 7],
  ])('%i + %i = %i (mod 2^32)', (a, n, want) => {
    expect(snAdd(a, n)).toBe(want);
  });

  it('returns an unsigned value', () => {
    expect(snAdd(0x7fffffff, 1)).toBe(HALF);
    expect(snAdd(0x7fffffff, 1)).toBeGreaterThan(0);
  });
});
