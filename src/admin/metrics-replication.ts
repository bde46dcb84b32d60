import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReplicationStatus } from '../replication/replication-interface.js';

const ROLE_VALUE: Record<ReplicationStatus['role'], number> = { primary: 1, replica: 0, closed: 0 };

/** Counters of ReplicationStatus.metrics, exported as `tandem_replication_<name>_total`. */
const REPLICATION_COUNTERS = [
  ['mirrored_ops', 'mirroredOps', 'Ops sent to peers (writes, discards, flushes; resync excluded)'],
  ['mirrored_bytes', 'mirroredBytes', 'Data bytes of mirrored writes'],
  ['acks', 'acks', 'Acknowledgements received from peers'],
  ['peer_failures', 'peerFailures', 'Peer failures (stream error, timeout, nack)'],
  ['resync_regions', 'resyncRegions', 'Regions copied by resync'],
  ['resync_bytes', 'resyncBytes', 'Bytes copied by resync (sent as data or as zero)'],
  ['applied_ops', 'appliedOps', 'Ops applied here as a replica'],
  ['applied_bytes', 'appliedBytes', 'Data bytes applied here as a replica'],
  [
    'degraded_writes',
    'degradedWrites',
    "Writes whose acknowledgement waited for a peer's removal from the in-sync set",
  ],
  ['fenced_writes', 'fencedWrites', 'Writes refused because this node was fenced'],
] as const;

/**
 * Replication gauges and counters, read from each volume's status() at scrape time. One
 * snapshot serves every metric of one scrape (the collectors run in the same turn).
 */
export function registerReplication(registers: Registry[], source: () => Iterable<ReplicationStatus>): void {
  let snapshot: ReplicationStatus[] | undefined;
  const statuses = (): ReplicationStatus[] => {
    if (!snapshot) {
      snapshot = [...source()];
      setImmediate(() => {
        snapshot = undefined;
      });
    }
    return snapshot;
  };
  const perVolume = (name: string, help: string, value: (s: ReplicationStatus) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['volume'],
      registers,
      collect() {
        this.reset();
        for (const s of statuses()) this.labels(s.volume).set(value(s));
      },
    });
  const perPeer = (
    name: string,
    help: string,
    value: (p: ReplicationStatus['peers'][number]) => number | undefined,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['volume', 'peer'],
      registers,
      collect() {
        this.reset();
        for (const s of statuses()) {
          for (const p of s.peers) {
            const v = value(p);
            if (v !== undefined) this.labels(s.volume, p.node).set(v);
          }
        }
      },
    });
  perVolume(
    'tandem_replication_role',
    'Replication role of this node: 1 primary, 0 replica or closed',
    (s) => ROLE_VALUE[s.role],
  );
  perVolume('tandem_replication_epoch', "This node's epoch as primary (0 when not primary)", (s) => s.epoch);
  perVolume('tandem_replication_dirty_regions', 'Regions marked dirty in the bitmap', (s) => s.dirtyRegions);
  perVolume(
    'tandem_replication_dirty_bytes',
    'Bytes of the regions marked dirty in the bitmap',
    (s) => s.dirtyBytes,
  );
  perPeer(
    'tandem_replication_in_sync',
    'Whether the peer mirrors every write: 1 in-sync, 0 otherwise',
    (p) => (p.state === 'in-sync' ? 1 : 0),
  );
  perPeer(
    'tandem_replication_resync_done_bytes',
    'Bytes done in the current (or last) resync of the peer',
    (p) => p.resyncDoneBytes,
  );
  perPeer(
    'tandem_replication_resync_planned_bytes',
    'Bytes to copy in the current (or last) resync of the peer',
    (p) => p.resyncTotalBytes,
  );
  perPeer(
    'tandem_replication_resync_rate_bytes_per_second',
    'Resync rate to the peer over the last few seconds (0: none running)',
    (p) => p.resyncRateBps,
  );
  perPeer(
    'tandem_replication_resync_eta_seconds',
    'Seconds left in the resync of the peer at the current rate (absent: none running or no rate yet)',
    (p) => p.resyncEtaSeconds,
  );
  perPeer(
    'tandem_replication_resync_resumed',
    'Whether the current (or last) resync of the peer continued an interrupted one from its checkpoint',
    (p) => (p.resyncResumed === undefined ? undefined : p.resyncResumed ? 1 : 0),
  );
  perVolume(
    'tandem_replication_resync_limit_bytes_per_second',
    'Resync rate limit in force (0: unlimited)',
    (s) => s.resyncLimitBps ?? 0,
  );
  perVolume('tandem_replication_size_bytes', 'The size the LU reports (committed)', (s) => s.size ?? 0);
  perVolume(
    'tandem_replication_resize_target_bytes',
    'The size a resize in progress grows to (the committed size when none is)',
    (s) => s.resizeTarget ?? s.size ?? 0,
  );
  perPeer(
    'tandem_replication_inflight_ops',
    'Ops sent to the peer and not yet acknowledged',
    (p) => p.inflightOps,
  );
  perPeer(
    'tandem_replication_last_ack_seconds',
    'Seconds since the last acknowledgement from the peer (absent: none yet)',
    (p) => (p.lastAckMs === undefined ? undefined : p.lastAckMs / 1000),
  );
  for (const [name, key, help] of REPLICATION_COUNTERS) {
    new Counter({
      name: `tandem_replication_${name}_total`,
      help: `${help} (since the volume was opened)`,
      labelNames: ['volume'],
      registers,
      collect() {
        this.reset();
        for (const s of statuses()) this.labels(s.volume).inc(s.metrics[key]);
      },
    });
  }
}
