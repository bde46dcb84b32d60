import { describe, expect, it } from 'vitest';
import {
  type ClusterLunConfig,
  type ClusterTargetConfig,
  clusterLunSchema,
  clusterTargetSchema,
  type VolumeConfig,
  volumeSchema,
} from '../../../src/admin/config-schema.js';
import {
  type DesiredConfig,
  lunKey,
  type MountedLun,
  type MountedState,
  planReconcile,
} from '../../../src/node/plan-reconcile.js';

const IQN = 'iqn.2026-11.org.tandem:t0';
const target = (extra: Partial<ClusterTargetConfig> = {}): ClusterTargetConfig =>
  clusterTargetSchema.parse({ iqn: IQN, ...extra });
const volume = (id: string, extra: Partial<VolumeConfig> = {}): VolumeConfig =>
  volumeSchema.parse({ id, kind: 'shared', size: 1 << 20, ...extra });
const lunOf = (lun: number, vol: string): ClusterLunConfig =>
  clusterLunSchema.parse({ target: IQN, lun, volume: vol });

function desired(t: ClusterTargetConfig[], v: VolumeConfig[], l: ClusterLunConfig[]): DesiredConfig {
  return {
    targets: new Map(t.map((x) => [x.iqn, x])),
    volumes: new Map(v.map((x) => [x.id, x])),
    luns: new Map(l.map((x) => [lunKey(x.target, x.lun), x])),
  };
}

function mounted(t: ClusterTargetConfig[], l: [number, VolumeConfig][]): MountedState {
  return {
    targets: new Map(t.map((x) => [x.iqn, x])),
    masks: new Map(t.map((x) => [x.iqn, x.aclLuns])),
    luns: new Map<string, MountedLun>(
      l.map(([lun, v]) => [lunKey(IQN, lun), { target: IQN, lun, volume: v }]),
    ),
  };
}

describe('planReconcile', () => {
  it('no change: no step', () => {
    const v0 = volume('vol0');
    expect(
      planReconcile(desired([target()], [v0], [lunOf(0, 'vol0')]), mounted([target()], [[0, v0]])),
    ).toEqual([]);
  });

  it('a new target and LUN: the target first, then the mount', () => {
    const v0 = volume('vol0');
    const steps = planReconcile(desired([target()], [v0], [lunOf(0, 'vol0')]), mounted([], []));
    expect(steps).toEqual([
      { kind: 'target', iqn: IQN, config: target() },
      { kind: 'mount', key: lunKey(IQN, 0), lun: lunOf(0, 'vol0'), volume: v0 },
    ]);
  });

  it('adds a LUN and leaves the other one alone', () => {
    const v0 = volume('vol0');
    const v1 = volume('vol1');
    const steps = planReconcile(
      desired([target()], [v0, v1], [lunOf(0, 'vol0'), lunOf(1, 'vol1')]),
      mounted([target()], [[0, v0]]),
    );
    expect(steps).toEqual([{ kind: 'mount', key: lunKey(IQN, 1), lun: lunOf(1, 'vol1'), volume: v1 }]);
  });

  it('removes a LUN unmapped from the configuration', () => {
    const v0 = volume('vol0');
    const v1 = volume('vol1');
    const steps = planReconcile(
      desired([target()], [v0, v1], [lunOf(0, 'vol0')]),
      mounted(
        [target()],
        [
          [0, v0],
          [1, v1],
        ],
      ),
    );
    expect(steps).toEqual([{ kind: 'unmount', key: lunKey(IQN, 1) }]);
  });

  it('a LUN moved to another volume: removed, then added', () => {
    const v0 = volume('vol0');
    const v1 = volume('vol1');
    const steps = planReconcile(
      desired([target()], [v0, v1], [lunOf(0, 'vol1')]),
      mounted([target()], [[0, v0]]),
    );
    expect(steps).toEqual([
      { kind: 'unmount', key: lunKey(IQN, 0) },
      { kind: 'mount', key: lunKey(IQN, 0), lun: lunOf(0, 'vol1'), volume: v1 },
    ]);
  });

  it('a changed store (path, block size, read-only, kind) remounts the LU', () => {
    const v0 = volume('vol0');
    for (const change of [
      { path: 'other.img' },
      { blockSize: 4096 as const },
      { readOnly: true },
      { kind: 'replicated' as const },
    ]) {
      const v = volume('vol0', change);
      const steps = planReconcile(
        desired([target()], [v], [lunOf(0, 'vol0')]),
        mounted([target()], [[0, v0]]),
      );
      expect(steps.map((s) => s.kind)).toEqual(['unmount', 'mount']);
    }
  });

  it('standby and size change the LU in place', () => {
    const v0 = volume('vol0');
    const grown = volume('vol0', { size: 2 << 20 });
    expect(
      planReconcile(desired([target()], [grown], [lunOf(0, 'vol0')]), mounted([target()], [[0, v0]])),
    ).toEqual([{ kind: 'update', key: lunKey(IQN, 0), volume: grown, standby: false, resize: true }]);
    const standby = volume('vol0', { standby: true });
    expect(
      planReconcile(desired([target()], [standby], [lunOf(0, 'vol0')]), mounted([target()], [[0, v0]])),
    ).toEqual([{ kind: 'update', key: lunKey(IQN, 0), volume: standby, standby: true, resize: false }]);
  });

  it('the replica set and minInSync of a replicated volume change in place (volume replicas add|remove)', () => {
    const v0 = volume('vol0', { kind: 'replicated', replicas: ['a', 'b'] });
    for (const change of [{ replicas: ['a', 'b', 'c'] }, { replicas: ['a'] }, { minInSync: 2 }]) {
      const v = volume('vol0', { kind: 'replicated', replicas: ['a', 'b'], ...change });
      expect(
        planReconcile(desired([target()], [v], [lunOf(0, 'vol0')]), mounted([target()], [[0, v0]])),
      ).toEqual([{ kind: 'update', key: lunKey(IQN, 0), volume: v, standby: false, resize: false }]);
    }
  });

  it('ACL and CHAP changes update the target; LUN masking changes are a step of their own', () => {
    const v0 = volume('vol0');
    const acl = target({ acl: ['iqn.2026-11.org.example:host1'] });
    expect(planReconcile(desired([acl], [v0], [lunOf(0, 'vol0')]), mounted([target()], [[0, v0]]))).toEqual([
      { kind: 'target', iqn: IQN, config: acl },
    ]);
    const masked = target({ aclLuns: { 'iqn.2026-11.org.example:host1': [0] } });
    expect(
      planReconcile(desired([masked], [v0], [lunOf(0, 'vol0')]), mounted([target()], [[0, v0]])),
    ).toEqual([
      { kind: 'target', iqn: IQN, config: masked },
      { kind: 'mask', iqn: IQN, aclLuns: { 'iqn.2026-11.org.example:host1': [0] } },
    ]);
  });

  it('a deleted target: forgotten, and its LUNs unmounted', () => {
    const v0 = volume('vol0');
    expect(planReconcile(desired([], [v0], [lunOf(0, 'vol0')]), mounted([target()], [[0, v0]]))).toEqual([
      { kind: 'forget-target', iqn: IQN },
      { kind: 'unmount', key: lunKey(IQN, 0) },
      { kind: 'skip', lun: lunOf(0, 'vol0'), why: 'no-target' },
    ]);
  });

  it('skips a LUN without a volume, and a second LUN on a volume already in use', () => {
    const v0 = volume('vol0');
    const steps = planReconcile(
      desired([target()], [v0], [lunOf(0, 'vol0'), lunOf(1, 'vol0'), lunOf(2, 'nope')]),
      mounted([target()], [[0, v0]]),
    );
    expect(steps).toEqual([
      { kind: 'skip', lun: lunOf(1, 'vol0'), why: 'volume-in-use' },
      { kind: 'skip', lun: lunOf(2, 'nope'), why: 'no-volume' },
    ]);
  });
});
