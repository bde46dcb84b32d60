// The switchover and verify rules, apart from the I/O: where the operation runs, who may take a
// volume over (live, in sync: safety rule 2), and the refusal a person sees otherwise.
import { describe, expect, it } from 'vitest';
import {
  checkCompared,
  checkVerifiable,
  routeToPrimary,
  switchoverCandidates,
  verifyProgress,
} from '../../../src/admin/primary-policy.js';
import type { TandemError } from '../../../src/util/errors.js';

const members = [
  { name: 'a', portals: [], grpc: '', admin: '127.0.0.1:7001' },
  { name: 'b', portals: [], grpc: '', admin: '127.0.0.1:7002' },
  { name: 'c', portals: [], grpc: '', admin: '' },
];
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as TandemError).code;
  }
  return undefined;
};

describe('routeToPrimary', () => {
  it('runs on the primary: here, or at its admin address', () => {
    expect(routeToPrimary('switchover', 'v', 'a', { volume: 'v', node: 'a', epoch: 3 }, members)).toEqual({
      local: true,
    });
    expect(routeToPrimary('verify', 'v', 'a', { volume: 'v', node: 'b', epoch: 3 }, members)).toEqual({
      local: false,
      admin: '127.0.0.1:7002',
    });
  });

  it('refuses without a primary (retryable for a switchover), to the primary itself, and a primary without an admin address', () => {
    expect(() => routeToPrimary('switchover', 'v', 'a', undefined, members)).toThrow(
      /has no primary right now/,
    );
    let err: TandemError | undefined;
    try {
      routeToPrimary('switchover', 'v', 'a', undefined, members);
    } catch (e) {
      err = e as TandemError;
    }
    expect(err?.retryable).toBe(true);
    expect(codeOf(() => routeToPrimary('verify', 'v', 'a', undefined, members))).toBe(
      'TANDEM_ERR_CLUSTER_NOT_LEADER',
    );
    expect(
      codeOf(() =>
        routeToPrimary('switchover', 'v', 'b', { volume: 'v', node: 'a', epoch: 1 }, members, 'a'),
      ),
    ).toBe('TANDEM_ERR_ADMIN_EXISTS');
    expect(
      codeOf(() => routeToPrimary('switchover', 'v', 'a', { volume: 'v', node: 'c', epoch: 1 }, members)),
    ).toBe('TANDEM_ERR_CLUSTER_UNAVAILABLE');
  });
});

describe('switchoverCandidates', () => {
  it('a shared volume: every other live node; a replicated one: only those in sync', () => {
    expect(switchoverCandidates({ volume: 'v', me: 'a', live: ['a', 'b', 'c'] })).toEqual(['b', 'c']);
    expect(
      switchoverCandidates({ volume: 'v', me: 'a', live: ['a', 'b', 'c'], inSync: new Set(['a', 'c']) }),
    ).toEqual(['c']);
  });

  it('refuses a --to that is out of sync or not live, and no candidate at all; --to picks one among several', () => {
    const inSync = new Set(['a', 'c']);
    expect(() =>
      switchoverCandidates({ volume: 'v', me: 'a', live: ['a', 'b', 'c'], inSync, to: 'b' }),
    ).toThrow('b cannot take v over: it is not in the in-sync set (wait for its resync)');
    expect(() => switchoverCandidates({ volume: 'v', me: 'a', live: ['a', 'b'], to: 'd' })).toThrow(
      'd cannot take v over: it is not a live member',
    );
    // An embedded node: it is the only member, so nobody can take over.
    expect(() => switchoverCandidates({ volume: 'v', me: 'a', live: ['a'] })).toThrow(
      'no other node can take v over: none is live',
    );
    expect(() =>
      switchoverCandidates({ volume: 'v', me: 'a', live: ['a', 'b'], inSync: new Set(['a']) }),
    ).toThrow('none is live and in sync');
    // Three-way: both peers in sync; --to names the one the hand-over lets take the role.
    expect(switchoverCandidates({ volume: 'v', me: 'a', live: ['a', 'b', 'c'], to: 'b' })).toEqual(['b']);
    expect(
      switchoverCandidates({
        volume: 'v',
        me: 'a',
        live: ['a', 'b', 'c'],
        inSync: new Set(['a', 'b', 'c']),
        to: 'c',
      }),
    ).toEqual(['c']);
    expect(switchoverCandidates({ volume: 'v', me: 'a', live: ['a', 'b'], to: 'b' })).toEqual(['b']);
  });
});

describe('verify', () => {
  it('needs a mirror and a connected peer; progress is in bytes of the volume', () => {
    expect(codeOf(() => checkVerifiable('v', false))).toBe('TANDEM_ERR_ADMIN_WRONG_MODE');
    expect(codeOf(() => checkVerifiable('v', true))).toBeUndefined();
    expect(codeOf(() => checkCompared('v', []))).toBe('TANDEM_ERR_CLUSTER_NOT_LEADER');
    expect(codeOf(() => checkCompared('v', ['b']))).toBeUndefined();
    expect(verifyProgress(1000, 1, 4)).toBe(250);
    expect(verifyProgress(1000, 5, 4)).toBe(1000);
  });
});
