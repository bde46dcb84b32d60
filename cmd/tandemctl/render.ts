import { formatBytes, formatDuration, percent, section } from '../../src/admin/admin-format.js';
import type { ClusterStatusMsg } from '../../src/admin/admin-proto.js';
import type { VolumeResync } from './resync-peers.js';

/** " 20 MiB/s ETA 4s (resumed)" for a running resync with a rate ('' otherwise). */
function resyncRate(r: VolumeResync | undefined): string {
  if (!r || r.rateBps <= 0) return '';
  const eta = r.etaSeconds > 0 ? ` ETA ${formatDuration(r.etaSeconds)}` : '';
  return ` ${formatBytes(r.rateBps)}/s${eta}${r.resumed ? ' (resumed)' : ''}`;
}

type Recovery = ClusterStatusMsg['volumes'][number]['recovery'][number];
type Generation = NonNullable<Recovery['generation']>;

/** "epoch 12 seq 1, era 3f2a…" (what a copy holds: docs/replication.md, When etcd forgets). */
function generation(g: Generation | null): string {
  if (!g) return 'nothing';
  const era = g.era ? `, era ${g.era.length > 8 ? `${g.era.slice(0, 8)}…` : g.era}` : '';
  return `epoch ${g.epoch} seq ${g.seq}${era}`;
}

/** One node's recovery after etcd lost the replica set, in words (issue 14, check 4). */
function recoveryDetail(r: Recovery): string {
  if (r.state === 'waiting-for-newest') {
    return `this copy is stale (${generation(r.generation)}; ${r.source} holds ${generation(r.newest)}): ${r.reason}`;
  }
  return r.reason;
}

/** " 20 MiB/s ETA 4s" of one resyncing peer, from the primary's view ('' without a rate). */
function peerRate(p: { resyncRateBps: number; resyncEtaSeconds: number } | undefined): string {
  if (!p || Number(p.resyncRateBps) <= 0) return '';
  const eta = Number(p.resyncEtaSeconds) > 0 ? ` ETA ${formatDuration(Number(p.resyncEtaSeconds))}` : '';
  return ` ${formatBytes(Number(p.resyncRateBps))}/s${eta}`;
}

/** The text of tandemctl status (`resync`: the running resyncs' rate and ETA, when known). */
export function showStatus(s: ClusterStatusMsg, resync?: ReadonlyMap<string, VolumeResync>): string {
  const now = Date.now();
  const parts: string[] = [`Cluster: ${s.mode} mode, answered by ${s.node || '?'}`];
  parts.push(
    section(
      'Nodes',
      ['NAME', 'STATE', 'PORTALS', 'ADMIN', 'TPG', 'UP'],
      s.nodes.map((n) => [
        n.name,
        n.up ? 'up' : 'down',
        n.portals.join(','),
        n.admin,
        n.targetPortGroupId || '',
        n.up && n.upSinceMs > 0 ? formatDuration((now - n.upSinceMs) / 1000) : '',
      ]),
    ),
  );
  parts.push(
    section(
      'Volumes',
      ['ID', 'SIZE', 'KIND', 'REPLICAS', 'IN-SYNC', 'PRIMARY', 'EPOCH', 'RESYNC', 'LUNS'],
      s.volumes.map((v) => [
        v.id,
        formatBytes(v.size),
        v.kind,
        v.replicas.join(','),
        v.inSync.join(','),
        v.primary || 'none',
        v.epoch || '',
        v.resyncTotalBytes > 0
          ? `${percent(v.resyncDoneBytes, v.resyncTotalBytes)}${resyncRate(resync?.get(v.id))}`
          : '',
        v.luns.join(','),
      ]),
    ),
  );
  // After etcd lost a replica set: which copy is the source, which waits (and for what), which resyncs.
  const recovering = s.volumes.flatMap((v) => (v.recovery ?? []).map((r) => ({ volume: v.id, ...r })));
  if (recovering.length > 0) {
    parts.push(
      section(
        'Recovery',
        ['VOLUME', 'NODE', 'STATE', 'DETAIL'],
        recovering.map((r) => [r.volume, r.node, r.state, recoveryDetail(r)]),
      ),
    );
  }
  // Every replica of every replicated volume: primary, in-sync, resyncing (progress, rate, ETA), out-of-sync, down.
  const replicas = s.volumes.flatMap((v) =>
    (v.replicaStates ?? []).map((r) => ({
      volume: v.id,
      ...r,
      peer: (v.resyncPeers ?? []).find((p) => p.node === r.node),
    })),
  );
  if (replicas.length > 0) {
    parts.push(
      section(
        'Replicas',
        ['VOLUME', 'NODE', 'STATE', 'RESYNC'],
        replicas.map((r) => [
          r.volume,
          r.node,
          r.state,
          r.state === 'resyncing' && r.resyncTotalBytes > 0
            ? `${percent(r.resyncDoneBytes, r.resyncTotalBytes)} ${formatBytes(r.resyncDoneBytes)}/${formatBytes(r.resyncTotalBytes)}${peerRate(r.peer)}`
            : '',
        ]),
      ),
    );
  }
  const nodes = [...new Set(s.volumes.flatMap((v) => v.portGroups.map((p) => p.node)))].sort();
  parts.push(
    section(
      'Port groups (ALUA)',
      [
        'VOLUME',
        ...nodes.map((n) => {
          const g = s.volumes.flatMap((v) => v.portGroups).find((p) => p.node === n);
          return g ? `${n} (tpg ${g.targetPortGroupId})` : n;
        }),
      ],
      s.volumes
        .filter((v) => v.portGroups.length > 0)
        .map((v) => [v.id, ...nodes.map((n) => v.portGroups.find((p) => p.node === n)?.state ?? '')]),
    ),
  );
  parts.push(
    section(
      'Sessions',
      ['NODE', 'INITIATOR', 'ISID', 'TARGET', 'PORTAL', 'AGE', 'CONNS'],
      s.sessions.map((x) => [
        x.node,
        x.initiator,
        x.isid,
        x.target,
        x.portal,
        x.sinceMs > 0 ? formatDuration((now - x.sinceMs) / 1000) : '',
        x.connections,
      ]),
    ),
  );
  for (const w of s.warnings) parts.push(`warning: ${w}`);
  return parts.join('\n\n');
}
