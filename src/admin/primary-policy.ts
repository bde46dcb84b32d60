/**
 * The rules of the operations only a volume's primary can carry out (tandemctl switchover and
 * verify), as pure functions over what the node knows: who leads the volume, who is live, who is
 * in sync. The backend does the I/O (coordinator reads, the call to another node, the hand-over);
 * these decide, and name the refusal a person sees.
 */
import type { LeaderRecord, NodeAddresses } from '../cluster/coordinator.js';
import { TandemError } from '../util/errors.js';

/** Where the operation runs: here, or on the primary (only it can drain its own I/O). */
export type PrimaryRoute = { readonly local: true } | { readonly local: false; readonly admin: string };

export function routeToPrimary(
  op: 'switchover' | 'verify',
  volume: string,
  me: string,
  leader: LeaderRecord | undefined,
  members: readonly NodeAddresses[],
  to?: string,
): PrimaryRoute {
  if (!leader) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_NOT_LEADER',
      `volume ${volume} has no primary right now`,
      op === 'switchover' ? { retryable: true } : undefined,
    );
  }
  if (op === 'switchover' && to === leader.node) {
    throw new TandemError('TANDEM_ERR_ADMIN_EXISTS', `${to} is already the primary of ${volume}`);
  }
  if (leader.node === me) return { local: true };
  const m = members.find((x) => x.name === leader.node);
  if (!m?.admin) {
    throw op === 'switchover'
      ? new TandemError(
          'TANDEM_ERR_CLUSTER_UNAVAILABLE',
          `the primary of ${volume} (${leader.node}) has no reachable admin address`,
          { retryable: true },
        )
      : new TandemError('TANDEM_ERR_CLUSTER_UNAVAILABLE', `the primary ${leader.node} has no admin address`);
  }
  return { local: false, admin: m.admin };
}

export interface SwitchoverView {
  readonly volume: string;
  readonly me: string;
  /** Live members' names (this node included). */
  readonly live: readonly string[];
  /** Replicated: the in-sync set (only its members may become primary, safety rule 2). */
  readonly inSync?: ReadonlySet<string>;
  /** `--to`, if given. */
  readonly to?: string;
}

/**
 * The nodes that may take the volume over from this primary: live, not this node, and for a
 * replicated volume in the in-sync set (any of them may be elected). Refuses when there is none
 * and when `to` is not one; `to` among several is the one the hand-over names (only it may take
 * the election key while the hand-over lasts).
 */
export function switchoverCandidates(v: SwitchoverView): string[] {
  const live = new Set(v.live);
  let candidates = [...live].filter((n) => n !== v.me);
  const inSync = v.inSync;
  if (inSync) candidates = candidates.filter((n) => inSync.has(n));
  if (v.to !== undefined && !candidates.includes(v.to)) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_NOT_LEADER',
      `${v.to} cannot take ${v.volume} over: it is ${live.has(v.to) ? 'not in the in-sync set (wait for its resync)' : 'not a live member'}`,
    );
  }
  if (candidates.length === 0) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_NOT_LEADER',
      `no other node can take ${v.volume} over: none is live${inSync ? ' and in sync' : ''}`,
    );
  }
  return v.to !== undefined ? [v.to] : candidates;
}

/** Verify compares replicas: a volume without a mirror here, or with no peer connected, has none. */
export function checkVerifiable(volume: string, replicated: boolean): void {
  if (!replicated) {
    throw new TandemError(
      'TANDEM_ERR_ADMIN_WRONG_MODE',
      `volume ${volume} is not replicated: nothing to compare`,
    );
  }
}

export function checkCompared(volume: string, comparedNodes: readonly string[]): void {
  if (comparedNodes.length === 0) {
    throw new TandemError(
      'TANDEM_ERR_CLUSTER_NOT_LEADER',
      `volume ${volume}: no in-sync peer is connected, so there is nothing to compare (see tandemctl status)`,
    );
  }
}

/** Progress in the volume's bytes, from the verifier's regions done of total. */
export function verifyProgress(size: number, done: number, total: number): number {
  return Math.min(size, Math.round((done / total) * size));
}
