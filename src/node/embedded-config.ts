import type { NodeConfig, TargetConfig } from '../admin/config-schema.js';
import type { ConfigKind, JsonValue } from '../cluster/coordinator.js';
import { lunKey } from './plan-reconcile.js';

export interface BootstrapEntry {
  readonly kind: ConfigKind;
  readonly name: string;
  readonly value: JsonValue;
}

const VOLUME_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as JsonValue;

/** A readable volume id for a LUN of the node file: its volumeId, else `<alias|iqn suffix>-lun<N>`. */
function volumeName(t: TargetConfig, l: TargetConfig['luns'][number], taken: Set<string>): string {
  if (l.volumeId && VOLUME_ID.test(l.volumeId) && !taken.has(l.volumeId)) return l.volumeId;
  const base = (t.alias ?? t.iqn.slice(t.iqn.lastIndexOf(':') + 1))
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100);
  let name = `${base || 'target'}-lun${l.lun}`;
  for (let i = 2; taken.has(name); i++) name = `${base || 'target'}-lun${l.lun}-${i}`;
  return name;
}

/**
 * The node file's targets and LUNs (embedded mode) as configuration entries, the cluster's
 * shape: each LUN becomes a volume and a mapping. The volume's identity is what the LU always
 * had (its volumeId, else `<node>:<iqn>:<lun>`), so VPD 83h and 80h do not change.
 */
export function embeddedBootstrap(cfg: NodeConfig): BootstrapEntry[] {
  const out: BootstrapEntry[] = [];
  const taken = new Set<string>();
  for (const t of cfg.targets) {
    const { luns, ...target } = t;
    out.push({ kind: 'targets', name: t.iqn, value: json(target) });
    for (const l of luns) {
      const id = volumeName(t, l, taken);
      taken.add(id);
      out.push({
        kind: 'volumes',
        name: id,
        value: json({
          id,
          kind: 'shared',
          size: l.size,
          blockSize: l.blockSize,
          path: l.path,
          standby: false,
          readOnly: l.readOnly,
          ...(l.backstore === 'memory' ? { backstore: 'memory' } : {}),
          identity: l.volumeId ?? `${cfg.node.name}:${t.iqn}:${l.lun}`,
        }),
      });
      out.push({
        kind: 'luns',
        name: lunKey(t.iqn, l.lun),
        value: { target: t.iqn, lun: l.lun, volume: id },
      });
    }
  }
  return out;
}
