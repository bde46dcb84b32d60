import { describe, expect, it } from 'vitest';
import { waitReason } from '../../../../cmd/tandemctl/wait-reason.js';
import type { ClusterStatusMsg, VolumeStatusMsg } from '../../../../src/admin/admin-proto.js';

function status(
  v: Partial<VolumeStatusMsg>,
  up: Record<string, boolean> = { a: true, b: true },
): ClusterStatusMsg {
  return {
    mode: 'cluster',
    node: 'a',
    nodes: Object.entries(up).map(([name, isUp], i) => ({
      name,
      up: isUp,
      portals: [],
      admin: '',
      grpc: '',
      targetPortGroupId: i + 1,
      upSinceMs: 0,
    })),
    volumes: [
      {
        id: 'v',
        kind: 'replicated',
        size: 1 << 30,
        replicas: ['a', 'b'],
        inSync: ['a', 'b'],
        primary: 'a',
        epoch: 7,
        portGroups: [
          { node: 'a', targetPortGroupId: 1, state: 'active-optimized' },
          { node: 'b', targetPortGroupId: 2, state: 'active-non-optimized' },
        ],
        resyncDoneBytes: 0,
        resyncTotalBytes: 0,
        luns: [],
        replicaStates: [],
        recovery: [],
        resyncPeers: [],
        ...v,
      },
    ],
    sessions: [],
    warnings: [],
  };
}

const AO = (node: string) => ({ node, targetPortGroupId: node === 'a' ? 1 : 2, state: 'active-optimized' });
const G = (node: string, state: string) => ({ node, targetPortGroupId: node === 'a' ? 1 : 2, state });

describe('tandemctl wait conditions', () => {
  it('a healthy replicated volume satisfies every condition', () => {
    const s = status({});
    expect(waitReason(s, 'v', { inSync: false })).toBeUndefined();
    expect(waitReason(s, 'v', { inSync: true })).toBeUndefined();
    expect(waitReason(s, 'v', { inSync: true, primary: 'a' })).toBeUndefined();
    expect(
      waitReason(status({ portGroups: [AO('a'), G('b', 'standby')] }), 'v', { inSync: true }),
    ).toBeUndefined();
  });

  it('names what is missing', () => {
    expect(waitReason(status({}), 'w', { inSync: false })).toBe('no volume w');
    expect(waitReason(status({ primary: '' }), 'v', { inSync: false })).toBe('no primary');
    const waiting = {
      node: 'b',
      state: 'waiting-for-replicas',
      source: '',
      missing: ['a'],
      generation: null,
      newest: null,
      reason: 'waiting for a to report what its copy holds (start it)',
    };
    expect(waitReason(status({ primary: '', recovery: [waiting] }), 'v', { inSync: false })).toBe(
      'no primary: b waiting-for-replicas: waiting for a to report what its copy holds (start it)',
    );
    expect(waitReason(status({}), 'v', { inSync: false, primary: 'b' })).toBe('the primary is a, not b');
    expect(
      waitReason(status({ portGroups: [G('a', 'transitioning'), G('b', 'unavailable')] }), 'v', {
        inSync: false,
      }),
    ).toBe('the primary a is transitioning, not active-optimized yet');
    expect(waitReason(status({}, { a: true, b: false }), 'v', { inSync: true })).toBe('replica b is down');
    expect(
      waitReason(status({ inSync: ['a'], resyncDoneBytes: 1, resyncTotalBytes: 4 }), 'v', { inSync: true }),
    ).toBe('b not in the in-sync set (resync 25%)');
    expect(waitReason(status({ inSync: ['a'] }), 'v', { inSync: true })).toBe('b not in the in-sync set');
    expect(waitReason(status({ resyncDoneBytes: 1, resyncTotalBytes: 4 }), 'v', { inSync: true })).toBe(
      'a resync is running',
    );
    expect(waitReason(status({ portGroups: [AO('a'), G('b', 'unavailable')] }), 'v', { inSync: true })).toBe(
      "b's port group is unavailable",
    );
  });

  it('a serving primary is enough without --in-sync (the peer may be down)', () => {
    const s = status(
      { inSync: ['b'], primary: 'b', portGroups: [G('a', 'unavailable'), AO('b')] },
      { a: false, b: true },
    );
    expect(waitReason(s, 'v', { inSync: false, primary: 'b' })).toBeUndefined();
    expect(waitReason(s, 'v', { inSync: true, primary: 'b' })).toBe('replica a is down');
  });

  it('shared volumes have no in-sync set: every node up and usable is enough', () => {
    const s = status({ kind: 'shared', inSync: [], portGroups: [AO('a'), G('b', 'standby')] });
    expect(waitReason(s, 'v', { inSync: true })).toBeUndefined();
  });
});
