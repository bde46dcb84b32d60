import type { ClusterStatusMsg, NodeStatusMsg, PeerStateMsg } from '../../src/admin/admin-proto.js';

/** One volume's running resyncs: their summed rate, the longest ETA, and whether one resumed. */
export interface VolumeResync {
  rateBps: number;
  etaSeconds: number;
  resumed: boolean;
}

/**
 * The running resyncs of each volume, from the primary's view: the cluster status's
 * `resyncPeers` (any node answering fills it from the primary's NodeStatus), else, from a node
 * of an older version that leaves it empty, the node status of the node answering when it is
 * that volume's primary.
 */
export function resyncByVolume(
  s: ClusterStatusMsg,
  local: NodeStatusMsg | undefined,
): Map<string, VolumeResync> {
  const out = new Map<string, VolumeResync>();
  for (const v of s.volumes) {
    const fromCluster: PeerStateMsg[] = v.resyncPeers ?? [];
    const mine: PeerStateMsg[] =
      local && local.name === v.primary
        ? (local.volumes.find((x) => x.id === v.id)?.replication?.peers ?? [])
        : [];
    const peers = (fromCluster.length > 0 ? fromCluster : mine).filter((p) => p.state === 'resyncing');
    if (peers.length === 0) continue;
    out.set(v.id, {
      rateBps: peers.reduce((n, p) => n + Number(p.resyncRateBps), 0),
      etaSeconds: Math.max(0, ...peers.map((p) => Number(p.resyncEtaSeconds))),
      resumed: peers.some((p) => p.resyncResumed),
    });
  }
  return out;
}
