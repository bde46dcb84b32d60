import {
  CLUSTER_SETTINGS_NAME,
  type ClusterLunConfig,
  type ClusterSettings,
  type ClusterTargetConfig,
  clusterLunSchema,
  clusterSettingsSchema,
  clusterTargetSchema,
  type NodeConfig,
  type VolumeConfig,
  volumeSchema,
} from '../admin/config-schema.js';
import type { ConfigEntry, ConfigStore } from '../cluster/coordinator.js';
import type { Logger } from '../util/logger.js';
import { type DesiredConfig, lunKey } from './plan-reconcile.js';

type Schema<T> = {
  safeParse(v: unknown): { success: true; data: T } | { success: false; error: { message: string } };
};

/** The watched configuration entries, parsed; an invalid entry is logged and left out. */
export function desiredConfig(entries: Iterable<ConfigEntry>, log: Logger): DesiredConfig {
  const d: {
    targets: Map<string, ClusterTargetConfig>;
    volumes: Map<string, VolumeConfig>;
    luns: Map<string, ClusterLunConfig>;
    settings?: ClusterSettings;
  } = {
    targets: new Map<string, ClusterTargetConfig>(),
    volumes: new Map<string, VolumeConfig>(),
    luns: new Map<string, ClusterLunConfig>(),
  };
  for (const e of entries) {
    const parse = <T>(schema: Schema<T>) => {
      const r = schema.safeParse(e.value);
      if (!r.success) {
        log.error(
          { kind: e.kind, name: e.name, error: r.error.message },
          'ignoring an invalid configuration entry',
        );
        return undefined;
      }
      return r.data;
    };
    if (e.kind === 'targets') {
      const t = parse<ClusterTargetConfig>(clusterTargetSchema);
      if (t) d.targets.set(t.iqn, t);
    } else if (e.kind === 'volumes') {
      const v = parse<VolumeConfig>(volumeSchema);
      if (v) d.volumes.set(v.id, v);
    } else if (e.kind === 'luns') {
      const l = parse<ClusterLunConfig>(clusterLunSchema);
      if (l) d.luns.set(lunKey(l.target, l.lun), l);
    } else if (e.kind === 'settings' && e.name === CLUSTER_SETTINGS_NAME) {
      const s = parse<ClusterSettings>(clusterSettingsSchema);
      if (s) d.settings = s;
    }
  }
  return d;
}

/** LUN masking from a target's `aclLuns` (initiator → LUNs), with the sets built once. */
export function lunMaskOf(
  aclLuns: Readonly<Record<string, readonly number[]>> | undefined,
): ((initiator: string) => ReadonlySet<number> | undefined) | undefined {
  if (!aclLuns) return undefined;
  const sets = new Map(Object.entries(aclLuns).map(([i, l]) => [i, new Set(l)]));
  return (initiator) => sets.get(initiator);
}

/** Cluster mode: the node file's `bootstrap:` written to etcd by the first node to find it empty. */
export async function bootstrapConfig(
  c: ConfigStore,
  b: NonNullable<NodeConfig['bootstrap']>,
  log: Logger,
): Promise<void> {
  const current = await c.readConfig();
  if (current.entries.length > 0) {
    log.info({ entries: current.entries.length }, 'configuration exists in etcd: bootstrap ignored');
    return;
  }
  for (const t of b.targets) await c.putConfig('targets', t.iqn, { ...t });
  for (const v of b.volumes) await c.putConfig('volumes', v.id, JSON.parse(JSON.stringify(v)));
  for (const l of b.luns) await c.putConfig('luns', lunKey(l.target, l.lun), { ...l });
  log.info(
    { targets: b.targets.length, volumes: b.volumes.length, luns: b.luns.length },
    'configuration bootstrapped into etcd',
  );
}
