// Which of etcd3's errors the cluster layer retries: one row per exported class, plus the
// untyped errors (a gRPC status error etcd3 did not cast, etcd's own server errors by text).
import * as etcd3 from 'etcd3';
import { describe, expect, it } from 'vitest';
import {
  etcdFaultOptions,
  isRetryable,
  RETRY_POLICY,
  toClusterError,
} from '../../../src/cluster/etcd-retry.js';
import { TandemError } from '../../../src/util/errors.js';

/** etcd3's exported error classes → whether a failure of that class is retried. */
const CLASSES: ReadonlyArray<readonly [string, () => Error, boolean]> = [
  // gRPC status classes (etcd3 casts every failed call to one of them, by status code).
  ['GRPCCancelledError', () => new etcd3.GRPCCancelledError('x'), true],
  ['GRPCUnknownError', () => new etcd3.GRPCUnknownError('x'), true],
  ['GRPCInvalidArgumentError', () => new etcd3.GRPCInvalidArgumentError('x'), false],
  ['GRPCDeadlineExceededError', () => new etcd3.GRPCDeadlineExceededError('x'), true],
  ['GRPCNotFoundError', () => new etcd3.GRPCNotFoundError('x'), false],
  ['GRPCAlreadyExistsError', () => new etcd3.GRPCAlreadyExistsError('x'), false],
  ['GRPCResourceExhastedError', () => new etcd3.GRPCResourceExhastedError('x'), true],
  ['GRPCFailedPreconditionError', () => new etcd3.GRPCFailedPreconditionError('x'), false],
  ['GRPCAbortedError', () => new etcd3.GRPCAbortedError('x'), true],
  ['GRPCOutOfRangeError', () => new etcd3.GRPCOutOfRangeError('x'), false],
  ['GRPCNotImplementedError', () => new etcd3.GRPCNotImplementedError('x'), false],
  ['GRPCInternalError', () => new etcd3.GRPCInternalError('x'), true],
  ['GRPCUnavailableError', () => new etcd3.GRPCUnavailableError('x'), true],
  ['GRPCDataLossError', () => new etcd3.GRPCDataLossError('x'), false],
  ['GRPCUnauthenticatedError', () => new etcd3.GRPCUnauthenticatedError('x'), false],
  ['GRPCGenericError', () => new etcd3.GRPCGenericError('x'), false],
  ['GRPCProtocolError', () => new etcd3.GRPCProtocolError('x'), false],
  // etcd3's own and etcd's application errors.
  ['EtcdError', () => new etcd3.EtcdError('etcdserver: key not found'), false],
  ['EtcdLeaseInvalidError', () => new etcd3.EtcdLeaseInvalidError('7'), false],
  ['EtcdRoleExistsError', () => new etcd3.EtcdRoleExistsError('x'), false],
  ['EtcdUserExistsError', () => new etcd3.EtcdUserExistsError('x'), false],
  ['EtcdRoleNotGrantedError', () => new etcd3.EtcdRoleNotGrantedError('x'), false],
  ['EtcdRoleNotFoundError', () => new etcd3.EtcdRoleNotFoundError('x'), false],
  ['EtcdUserNotFoundError', () => new etcd3.EtcdUserNotFoundError('x'), false],
  ['EtcdLockFailedError', () => new etcd3.EtcdLockFailedError('x'), false],
  ['EtcdAuthenticationFailedError', () => new etcd3.EtcdAuthenticationFailedError('x'), false],
  ['EtcdInvalidAuthTokenError', () => new etcd3.EtcdInvalidAuthTokenError('x'), false],
  ['EtcdPermissionDeniedError', () => new etcd3.EtcdPermissionDeniedError('x'), false],
  ['EtcdWatchStreamEnded', () => new etcd3.EtcdWatchStreamEnded(), false],
  ['NotCampaigningError', () => new etcd3.NotCampaigningError('x'), false],
  ['STMConflictError', () => new etcd3.STMConflictError(), false],
  ['ClientClosedError', () => new etcd3.ClientClosedError('kv'), false],
  ['ClientRuntimeError', () => new etcd3.ClientRuntimeError('x'), false],
];

/** A grpc-js status error as it comes off the wire: a plain Error with a numeric `code`. */
function status(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details });
}

describe('isRetryable: etcd3 error classes', () => {
  for (const [name, make, retryable] of CLASSES) {
    it(`${name} → ${retryable ? 'retried' : 'not retried'}`, () => {
      const err = make();
      expect(isRetryable(err)).toBe(retryable);
      expect(toClusterError(err, 'op')).toMatchObject({ code: 'TANDEM_ERR_CLUSTER_UNAVAILABLE', retryable });
    });
  }

  it('covers every error class etcd3 exports', () => {
    const exported = Object.entries(etcd3)
      .filter(([n, v]) => typeof v === 'function' && /Error$|^EtcdWatchStreamEnded$/.test(n))
      .filter(([, v]) => (v as { prototype?: unknown }).prototype instanceof Error)
      .map(([n]) => n)
      .sort();
    expect(CLASSES.map(([n]) => n).sort()).toEqual(exported);
  });
});

describe('isRetryable: untyped errors', () => {
  it('a gRPC status error is retried by its code (UNAVAILABLE, DEADLINE_EXCEEDED, ...), not its text', () => {
    expect(isRetryable(status(14, 'UNAVAILABLE: No connection established'))).toBe(true);
    expect(isRetryable(status(4, 'DEADLINE_EXCEEDED: Deadline exceeded'))).toBe(true);
    expect(isRetryable(status(8, 'RESOURCE_EXHAUSTED: etcdserver: too many requests'))).toBe(true);
    expect(isRetryable(status(3, 'INVALID_ARGUMENT: etcdserver: key is not provided'))).toBe(false);
    expect(isRetryable(status(9, 'FAILED_PRECONDITION: etcdserver: requested lease not found'))).toBe(false);
  });

  it("etcd's transient server errors without a status (leader change, no leader, timeout, overload) are retried", () => {
    for (const m of [
      'etcdserver: leader changed',
      'etcdserver: no leader',
      'etcdserver: request timed out',
      'etcdserver: request timed out, possibly due to previous leader failure',
      'etcdserver: too many requests',
    ]) {
      expect(isRetryable(new Error(m)), m).toBe(true);
      expect(isRetryable(new etcd3.EtcdError(m)), m).toBe(true);
    }
    expect(isRetryable(new etcd3.EtcdError('Watcher canceled: etcdserver: no leader'))).toBe(true);
    expect(isRetryable(new Error('etcdserver: mvcc: required revision has been compacted'))).toBe(false);
    expect(isRetryable(new Error('etcdserver: requested lease not found'))).toBe(false);
  });

  it('TandemErrors by their own flag; anything else is not retried', () => {
    expect(isRetryable(new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', 'x', { retryable: true }))).toBe(
      true,
    );
    expect(isRetryable(new TandemError('TANDEM_ERR_CLUSTER_NOT_LEADER', 'x'))).toBe(false);
    expect(isRetryable(new TypeError('x is undefined'))).toBe(false);
    // Decided by class, not by words in the text (the message regex this replaced retried these).
    expect(isRetryable(new etcd3.GRPCInvalidArgumentError('bad connection string'))).toBe(false);
    expect(isRetryable(new Error('deadline must be a Date'))).toBe(false);
    expect(isRetryable('a string')).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
  });
});

describe('etcdFaultOptions', () => {
  it("etcd3's watch resumes wait the policy's delays: 50 ms doubling to 1 s, ±20 %", () => {
    const watch = etcdFaultOptions().faultHandling!.watchBackoff!;
    let b = watch;
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      delays.push(b.duration);
      b = b.next(undefined) ?? b;
    }
    const bases = [50, 100, 200, 400, 800, 1000, 1000];
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(Math.round(bases[i]! * (1 - RETRY_POLICY.jitter)));
      expect(d).toBeLessThanOrEqual(Math.round(bases[i]! * (1 + RETRY_POLICY.jitter)));
    });
  });
});
