import { TandemError } from '../util/errors.js';
import { CONFIG_KINDS, type ConfigKind } from './coordinator.js';

/**
 * The key layout in etcd, all under one prefix (default `/tandem/<cluster>/`). Kind first, so
 * that every watch is one exact prefix. Segments are URI-encoded (a portal `[::1]:3260` or a
 * volume name may hold characters that are not path-safe).
 *
 *   members/<node>                    NodeAddresses                 session lease
 *   ids/next/tpg                      {next} target port group id   counter, CAS on mod revision
 *   ids/next/rtpi                     {next} relative port id       counter, CAS on mod revision
 *   ids/tpg/<node>                    {targetPortGroupId}           permanent
 *   ids/rtpi/<node>/<portal>          {relativePortId}              permanent
 *   seeds/<volume>                    {seed}                        permanent
 *   leaders/<volume>                  {node, lease}                 session lease; create rev = epoch
 *   alua/<volume>                     {epoch, primary, groups}      written under the leader guard
 *   reservations/<volume>             opaque JSON                   CAS on mod revision
 *   pr-applied/<volume>/<node>        {revision}                    session lease
 *   mode-pages/<volume>               opaque JSON (mode parameters) plain put; deleted with the volume
 *   config/<kind>/<name>              JSON                          desired configuration
 */
export class KeyLayout {
  readonly prefix: string;

  constructor(prefix: string) {
    if (!prefix.startsWith('/') || !prefix.endsWith('/') || prefix.length < 2) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT',
        `key prefix must look like /tandem/<cluster>/, got ${JSON.stringify(prefix)}`,
      );
    }
    this.prefix = prefix;
  }

  static forCluster(cluster: string): KeyLayout {
    return new KeyLayout(`/tandem/${segment(cluster, 'cluster name')}/`);
  }

  members(): string {
    return `${this.prefix}members/`;
  }
  member(node: string): string {
    return this.members() + segment(node, 'node name');
  }

  tpgCounter(): string {
    return `${this.prefix}ids/next/tpg`;
  }
  tpgs(): string {
    return `${this.prefix}ids/tpg/`;
  }
  tpg(node: string): string {
    return this.tpgs() + segment(node, 'node name');
  }
  rtpiCounter(): string {
    return `${this.prefix}ids/next/rtpi`;
  }
  rtpis(): string {
    return `${this.prefix}ids/rtpi/`;
  }
  rtpi(node: string, portal: string): string {
    return `${this.rtpis()}${segment(node, 'node name')}/${segment(portal, 'portal')}`;
  }

  seed(volume: string): string {
    return `${this.prefix}seeds/${segment(volume, 'volume')}`;
  }

  leaders(): string {
    return `${this.prefix}leaders/`;
  }
  leader(volume: string): string {
    return this.leaders() + segment(volume, 'volume');
  }

  /**
   * `handover/<volume>`: a planned switchover names the node that may take the role next
   * (`{ from, to }`, on the old primary's lease). Other candidates hold back while it exists.
   */
  handover(volume: string): string {
    return `${this.prefix}handover/${segment(volume, 'volume')}`;
  }

  aluas(): string {
    return `${this.prefix}alua/`;
  }
  alua(volume: string): string {
    return this.aluas() + segment(volume, 'volume');
  }

  era(): string {
    return `${this.prefix}era`;
  }

  /** Replicated volumes: `datasets/<volume>` names the data lineage (created once). */
  datasets(): string {
    return `${this.prefix}datasets/`;
  }
  dataset(volume: string): string {
    return `${this.datasets()}${segment(volume, 'volume')}`;
  }
  /** `insync/<volume>/<node>`: one key per replica known to hold every acknowledged write. */
  inSyncAll(): string {
    return `${this.prefix}insync/`;
  }
  inSync(volume: string): string {
    return `${this.inSyncAll()}${segment(volume, 'volume')}/`;
  }
  inSyncMember(volume: string, node: string): string {
    return this.inSync(volume) + segment(node, 'node name');
  }

  reservations(): string {
    return `${this.prefix}reservations/`;
  }
  reservation(volume: string): string {
    return this.reservations() + segment(volume, 'volume');
  }
  modePages(): string {
    return `${this.prefix}mode-pages/`;
  }
  modePagesOf(volume: string): string {
    return this.modePages() + segment(volume, 'volume');
  }
  prApplied(volume: string): string {
    return `${this.prefix}pr-applied/${segment(volume, 'volume')}/`;
  }
  prAppliedBy(volume: string, node: string): string {
    return this.prApplied(volume) + segment(node, 'node name');
  }

  config(): string {
    return `${this.prefix}config/`;
  }
  configKey(kind: ConfigKind, name: string): string {
    if (!CONFIG_KINDS.includes(kind)) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT',
        `unknown config kind ${JSON.stringify(kind)}`,
      );
    }
    return `${this.config()}${kind}/${segment(name, 'config name')}`;
  }

  /** The decoded segments of `key` after `base` (which must be a prefix of it). */
  rest(base: string, key: string): string[] {
    if (!key.startsWith(base)) return [];
    return key
      .slice(base.length)
      .split('/')
      .map((s) => decodeURIComponent(s));
  }

  /** `config/<kind>/<name>` → kind and name, or undefined for a key Tandem did not write. */
  parseConfigKey(key: string): { kind: ConfigKind; name: string } | undefined {
    const [kind, name, ...extra] = this.rest(this.config(), key);
    if (extra.length > 0 || name === undefined || name === '') return undefined;
    if (!(CONFIG_KINDS as readonly string[]).includes(kind ?? '')) return undefined;
    return { kind: kind as ConfigKind, name };
  }
}

export function segment(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT',
      `${what} must be 1..255 characters, got ${JSON.stringify(value)}`,
    );
  }
  return encodeURIComponent(value);
}
