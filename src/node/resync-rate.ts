import type { ClusterSettings, VolumeConfig } from '../admin/config-schema.js';

const MiB = 1 << 20;

/** The resync limit of a volume in bytes/s: its own, else the cluster's, else 0 (unlimited). */
export function resyncRateBps(vol: VolumeConfig, settings: ClusterSettings | undefined): number {
  const mibps = vol.resyncRateMiBps ?? settings?.resyncRateMiBps ?? 0;
  return Math.round(mibps * MiB);
}
