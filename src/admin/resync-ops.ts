import type { JsonValue } from '../cluster/coordinator.js';
import { type ConfigStore, RefusedError, update } from './admin-ops.js';
import { CLUSTER_SETTINGS_NAME } from './config-schema.js';

type Obj = { [key: string]: JsonValue };

/**
 * Sets the resync rate limit (MiB/s, 0: unlimited) of one volume, or of the cluster (every
 * volume without its own); `undefined` removes the volume's own limit (the cluster's applies).
 * Live: every node applies it at its next reconcile, to the resync running too.
 */
export async function resyncRateSet(
  store: ConfigStore,
  mibps: number | undefined,
  volume?: string,
): Promise<{ scope: string; resyncRateMiBps: number | undefined }> {
  if (mibps !== undefined && (!Number.isFinite(mibps) || mibps < 0)) {
    throw new RefusedError(`resync rate ${mibps}: expected MiB/s ≥ 0`, 'e.g. --rate 20 (0: unlimited)');
  }
  if (volume === undefined) {
    if (mibps === undefined)
      throw new RefusedError('--rate default needs --volume', 'give a number for the cluster');
    await update<Obj>(store, 'settings', CLUSTER_SETTINGS_NAME, (cur) => ({
      ...(cur ?? {}),
      resyncRateMiBps: mibps,
    }));
    return { scope: 'cluster', resyncRateMiBps: mibps };
  }
  await update<Obj>(store, 'volumes', volume, (cur) => {
    if (!cur) throw new RefusedError(`no volume ${volume}`, 'tandemctl volume list shows the volumes');
    if (cur.kind === 'shared')
      throw new RefusedError(`volume ${volume} is shared: it has no resync`, 'choose a replicated volume');
    const { resyncRateMiBps: _old, ...rest } = cur;
    return mibps === undefined ? rest : { ...rest, resyncRateMiBps: mibps };
  });
  return { scope: `volume ${volume}`, resyncRateMiBps: mibps };
}
