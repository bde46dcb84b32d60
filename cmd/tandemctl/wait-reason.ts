/**
 * `tandemctl wait`: what a volume still lacks before it is in the state a script (or a person
 * following the walkthrough) waits for, read from one cluster status. Pure: the CLI polls.
 *
 *   serving   a primary holds the volume and its port group is Active/Optimized in the
 *             primary's epoch (so initiators can write through it);
 *   --primary NODE   … and that primary is NODE;
 *   --in-sync        … and every replica is up, in the in-sync set, no resync is running, and
 *                    every other replica's port group is Active/Non-optimized or Standby.
 */
import type { ClusterStatusMsg, VolumeStatusMsg } from '../../src/admin/admin-proto.js';

export interface WaitWant {
  primary?: string;
  inSync: boolean;
}

const USABLE_SECONDARY = new Set(['active-non-optimized', 'standby']);

/** Why `volume` is not there yet, in words; undefined once it is. */
export function waitReason(s: ClusterStatusMsg, volume: string, want: WaitWant): string | undefined {
  const v = s.volumes.find((x) => x.id === volume);
  if (!v) return `no volume ${volume}`;
  if (!v.primary) {
    // After etcd lost the replica set: who waits, and for what (issue 14, check 4).
    const waits = (v.recovery ?? []).filter((r) => r.state.startsWith('waiting-'));
    return waits.length > 0
      ? `no primary: ${waits.map((r) => `${r.node} ${r.state}: ${r.reason}`).join('; ')}`
      : 'no primary';
  }
  if (want.primary !== undefined && v.primary !== want.primary) {
    return `the primary is ${v.primary}, not ${want.primary}`;
  }
  const group = (node: string) => v.portGroups.find((g) => g.node === node)?.state ?? 'no port group';
  const own = group(v.primary);
  if (own !== 'active-optimized') return `the primary ${v.primary} is ${own}, not active-optimized yet`;
  if (!want.inSync) return undefined;
  return syncReason(s, v, group);
}

function syncReason(
  s: ClusterStatusMsg,
  v: VolumeStatusMsg,
  group: (node: string) => string,
): string | undefined {
  const down = v.replicas.filter((r) => !s.nodes.find((n) => n.name === r)?.up);
  if (down.length > 0) return `replica ${down.join(', ')} ${down.length > 1 ? 'are' : 'is'} down`;
  if (v.kind === 'replicated') {
    const out = v.replicas.filter((r) => !v.inSync.includes(r));
    if (out.length > 0) {
      const progress =
        v.resyncTotalBytes > 0
          ? ` (resync ${Math.floor((100 * v.resyncDoneBytes) / v.resyncTotalBytes)}%)`
          : '';
      return `${out.join(', ')} not in the in-sync set${progress}`;
    }
    if (v.resyncTotalBytes > 0 && v.resyncDoneBytes < v.resyncTotalBytes) return 'a resync is running';
  }
  for (const r of v.replicas) {
    if (r === v.primary) continue;
    const state = group(r);
    if (!USABLE_SECONDARY.has(state)) return `${r}'s port group is ${state}`;
  }
  return undefined;
}
