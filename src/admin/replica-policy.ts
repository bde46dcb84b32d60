/**
 * The rules of changing a replicated volume's replica set and minInSync (tandemctl volume
 * replicas add|remove, volume set), as pure functions over what etcd says: the replicas, the
 * in-sync set (DESIGN.md safety rule 2) and the primary. The admin backend checks them again on
 * every volume write, so no client can remove the last copy that holds every acknowledged write.
 */
import { TandemError } from '../util/errors.js';

export interface ReplicaSetView {
  readonly volume: string;
  /** The replicas before the change (the configured list, else every node of the cluster). */
  readonly before: readonly string[];
  /** The replicas after it. */
  readonly after: readonly string[];
  /** The in-sync set in etcd. */
  readonly inSync: readonly string[];
  /** The current primary ('' or undefined: none). */
  readonly primary?: string;
  /** minInSync after the change (absent: 1). */
  readonly minInSync?: number;
}

/**
 * Refuses a change that would leave no in-sync copy in the set, remove the primary (it would go
 * on serving a volume it no longer holds: switch over first), or ask for more copies in sync
 * than there are replicas (no write could ever be accepted).
 */
export function checkReplicaChange(v: ReplicaSetView): void {
  const after = new Set(v.after);
  const removed = v.before.filter((n) => !after.has(n));
  if (v.after.length === 0) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT',
      `volume ${v.volume}: a replicated volume needs at least one replica`,
    );
  }
  if (v.primary && removed.includes(v.primary)) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT',
      `volume ${v.volume}: ${v.primary} is its primary; move the role first (tandemctl switchover ${v.volume} --to NODE)`,
    );
  }
  if (removed.length > 0 && !v.inSync.some((n) => after.has(n))) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT',
      `volume ${v.volume}: removing ${removed.join(', ')} would remove the last in-sync copy (in sync: ${v.inSync.join(', ') || 'none'})`,
    );
  }
  const min = v.minInSync ?? 1;
  if (min > v.after.length) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT',
      `volume ${v.volume}: minInSync ${min} is more than its ${v.after.length} replica${v.after.length === 1 ? '' : 's'}: no write could be accepted`,
    );
  }
}
