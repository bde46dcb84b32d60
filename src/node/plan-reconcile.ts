import type {
  ClusterLunConfig,
  ClusterSettings,
  ClusterTargetConfig,
  VolumeConfig,
} from '../admin/config-schema.js';

/** The desired configuration, parsed: what the watched configuration says the node serves. */
export interface DesiredConfig {
  readonly targets: ReadonlyMap<string, ClusterTargetConfig>;
  readonly volumes: ReadonlyMap<string, VolumeConfig>;
  /** By `lunKey(target, lun)`. */
  readonly luns: ReadonlyMap<string, ClusterLunConfig>;
  /** settings/cluster (absent: none). */
  readonly settings?: ClusterSettings;
}

/** One LUN as the node serves it now. */
export interface MountedLun {
  readonly target: string;
  readonly lun: number;
  readonly volume: VolumeConfig;
}

/** What the node serves now: its LUNs (by `lunKey`), its targets' configuration, their masking. */
export interface MountedState {
  readonly luns: ReadonlyMap<string, MountedLun>;
  /** The targets as logins read them now (a target left out of the configuration is absent). */
  readonly targets: ReadonlyMap<string, ClusterTargetConfig>;
  /** Each target's LUN masking as last applied (kept for a target that left: its engine stays). */
  readonly masks: ReadonlyMap<string, ClusterTargetConfig['aclLuns']>;
}

/** One step of a reconcile; the runtime executes them in the order given. */
export type ReconcileStep =
  /** The target exists (created if new) and logins read `config` from now on. */
  | { readonly kind: 'target'; readonly iqn: string; readonly config: ClusterTargetConfig }
  /** The target's LUN masking changed: apply it, REPORTED LUNS DATA HAS CHANGED to its nexuses. */
  | { readonly kind: 'mask'; readonly iqn: string; readonly aclLuns: ClusterTargetConfig['aclLuns'] }
  /** The target left the configuration: it admits nobody. */
  | { readonly kind: 'forget-target'; readonly iqn: string }
  | { readonly kind: 'unmount'; readonly key: string }
  /** Same LU, new settings: a standby flag to apply and/or a size to grow to. */
  | {
      readonly kind: 'update';
      readonly key: string;
      readonly volume: VolumeConfig;
      readonly standby: boolean;
      readonly resize: boolean;
    }
  | {
      readonly kind: 'mount';
      readonly key: string;
      readonly lun: ClusterLunConfig;
      readonly volume: VolumeConfig;
    }
  /** A LUN the node cannot serve as configured (logged, skipped). */
  | {
      readonly kind: 'skip';
      readonly lun: ClusterLunConfig;
      readonly why: 'no-volume' | 'no-target' | 'volume-in-use';
    };

export const lunKey = (target: string, lun: number): string => `${target},${lun}`;

/**
 * A mounted LU can stay as it is only when nothing that shapes its store or identity changed.
 * Its replica set may change live (`volume replicas add|remove`): each node keeps its own store,
 * and the primary links to or drops the replica (an `update`).
 */
function sameStore(a: VolumeConfig, b: VolumeConfig): boolean {
  return a.kind === b.kind && a.path === b.path && a.blockSize === b.blockSize && a.readOnly === b.readOnly;
}

/**
 * The reconcile diff (DESIGN.md Configuration), pure: targets first, then removals (a LUN moved
 * to another volume is removed, then added), then additions. I/O to LUNs that did not change
 * is undisturbed: they get no step, or an `update`.
 */
export function planReconcile(desired: DesiredConfig, mounted: MountedState): ReconcileStep[] {
  const steps: ReconcileStep[] = [];
  for (const [iqn, t] of desired.targets) {
    const cur = mounted.targets.get(iqn);
    if (!cur || JSON.stringify(cur) !== JSON.stringify(t)) steps.push({ kind: 'target', iqn, config: t });
    if (JSON.stringify(mounted.masks.get(iqn) ?? null) !== JSON.stringify(t.aclLuns ?? null))
      steps.push({ kind: 'mask', iqn, aclLuns: t.aclLuns });
  }
  for (const iqn of mounted.targets.keys())
    if (!desired.targets.has(iqn)) steps.push({ kind: 'forget-target', iqn });
  const inUse = new Set<string>();
  const kept = new Set<string>();
  for (const [key, m] of mounted.luns) {
    const want = desired.luns.get(key);
    const vol = want ? desired.volumes.get(want.volume) : undefined;
    if (
      !want ||
      !vol ||
      !desired.targets.has(want.target) ||
      want.volume !== m.volume.id ||
      !sameStore(vol, m.volume)
    ) {
      steps.push({ kind: 'unmount', key });
      continue;
    }
    inUse.add(vol.id);
    kept.add(key);
    if (JSON.stringify(vol) === JSON.stringify(m.volume)) continue;
    const standby = vol.standby !== m.volume.standby;
    const resize = vol.size !== m.volume.size;
    steps.push({ kind: 'update', key, volume: vol, standby, resize });
  }
  for (const [key, l] of desired.luns) {
    if (kept.has(key)) continue;
    const vol = desired.volumes.get(l.volume);
    if (!vol) steps.push({ kind: 'skip', lun: l, why: 'no-volume' });
    else if (!desired.targets.has(l.target)) steps.push({ kind: 'skip', lun: l, why: 'no-target' });
    else if (inUse.has(vol.id)) steps.push({ kind: 'skip', lun: l, why: 'volume-in-use' });
    else {
      inUse.add(vol.id);
      steps.push({ kind: 'mount', key, lun: l, volume: vol });
    }
  }
  return steps;
}
