import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/admin/metrics.js';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import {
  type PeerStatus,
  type ReplicationStatus,
  zeroReplicationMetrics,
} from '../../../src/replication/replication-interface.js';

const T = 'iqn.2026-11.org.tandem:unit';

function peer(p: Partial<PeerStatus> & { node: string }): PeerStatus {
  return {
    address: '127.0.0.1:1',
    state: 'in-sync',
    resyncDoneBytes: 0,
    resyncTotalBytes: 0,
    resyncSentBytes: 0,
    inflightOps: 0,
    lastAckMs: undefined,
    lastError: undefined,
    ...p,
  };
}

function status(s: Partial<ReplicationStatus> & { volume: string }): ReplicationStatus {
  return {
    node: 'node-a',
    role: 'primary',
    epoch: 0,
    highestEpoch: 0,
    datasetId: 'ds',
    hasValidData: true,
    regionSize: 1 << 20,
    dirtyRegions: 0,
    dirtyBytes: 0,
    peers: [],
    metrics: zeroReplicationMetrics(),
    ...s,
  };
}

/** The sample lines (no comments) of the series whose name starts with `prefix`. */
async function lines(m: Metrics, prefix: string): Promise<string[]> {
  const text = await m.registry.metrics();
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('replication metrics, read from ReplicatedVolume.status() at scrape time', () => {
  let volumes: ReplicationStatus[] = [];
  const metrics = new Metrics({ sessions: () => [], aluaStates: () => [], replication: () => volumes });

  it('exports role, epoch, dirty, per-peer sync state, resync progress, lag and counters', async () => {
    volumes = [
      status({
        volume: 'vol-a',
        epoch: 7,
        dirtyRegions: 3,
        dirtyBytes: 3 << 20,
        peers: [
          peer({ node: 'node-b', inflightOps: 4, lastAckMs: 250 }),
          peer({
            node: 'node-c',
            state: 'resyncing',
            resyncDoneBytes: 1 << 20,
            resyncTotalBytes: 8 << 20,
            resyncRateBps: 2 << 20,
            resyncEtaSeconds: 4,
            resyncResumed: true,
          }),
        ],
        size: 64 << 20,
        resizeTarget: 128 << 20,
        resyncLimitBps: 20 << 20,
        metrics: {
          mirroredOps: 10,
          mirroredBytes: 40960,
          acks: 19,
          peerFailures: 1,
          resyncRegions: 2,
          resyncBytes: 2 << 20,
          appliedOps: 0,
          appliedBytes: 0,
          degradedWrites: 1,
          fencedWrites: 0,
        },
      }),
      status({
        volume: 'vol-b',
        role: 'replica',
        metrics: { ...status({ volume: '' }).metrics, appliedOps: 5 },
      }),
    ];
    expect(await lines(metrics, 'tandem_replication_')).toEqual([
      'tandem_replication_role{volume="vol-a"} 1',
      'tandem_replication_role{volume="vol-b"} 0',
      'tandem_replication_epoch{volume="vol-a"} 7',
      'tandem_replication_epoch{volume="vol-b"} 0',
      'tandem_replication_dirty_regions{volume="vol-a"} 3',
      'tandem_replication_dirty_regions{volume="vol-b"} 0',
      'tandem_replication_dirty_bytes{volume="vol-a"} 3145728',
      'tandem_replication_dirty_bytes{volume="vol-b"} 0',
      'tandem_replication_in_sync{volume="vol-a",peer="node-b"} 1',
      'tandem_replication_in_sync{volume="vol-a",peer="node-c"} 0',
      'tandem_replication_resync_done_bytes{volume="vol-a",peer="node-b"} 0',
      'tandem_replication_resync_done_bytes{volume="vol-a",peer="node-c"} 1048576',
      'tandem_replication_resync_planned_bytes{volume="vol-a",peer="node-b"} 0',
      'tandem_replication_resync_planned_bytes{volume="vol-a",peer="node-c"} 8388608',
      'tandem_replication_resync_rate_bytes_per_second{volume="vol-a",peer="node-c"} 2097152',
      'tandem_replication_resync_eta_seconds{volume="vol-a",peer="node-c"} 4',
      'tandem_replication_resync_resumed{volume="vol-a",peer="node-c"} 1',
      'tandem_replication_resync_limit_bytes_per_second{volume="vol-a"} 20971520',
      'tandem_replication_resync_limit_bytes_per_second{volume="vol-b"} 0',
      'tandem_replication_size_bytes{volume="vol-a"} 67108864',
      'tandem_replication_size_bytes{volume="vol-b"} 0',
      'tandem_replication_resize_target_bytes{volume="vol-a"} 134217728',
      'tandem_replication_resize_target_bytes{volume="vol-b"} 0',
      'tandem_replication_inflight_ops{volume="vol-a",peer="node-b"} 4',
      'tandem_replication_inflight_ops{volume="vol-a",peer="node-c"} 0',
      'tandem_replication_last_ack_seconds{volume="vol-a",peer="node-b"} 0.25',
      'tandem_replication_mirrored_ops_total{volume="vol-a"} 10',
      'tandem_replication_mirrored_ops_total{volume="vol-b"} 0',
      'tandem_replication_mirrored_bytes_total{volume="vol-a"} 40960',
      'tandem_replication_mirrored_bytes_total{volume="vol-b"} 0',
      'tandem_replication_acks_total{volume="vol-a"} 19',
      'tandem_replication_acks_total{volume="vol-b"} 0',
      'tandem_replication_peer_failures_total{volume="vol-a"} 1',
      'tandem_replication_peer_failures_total{volume="vol-b"} 0',
      'tandem_replication_resync_regions_total{volume="vol-a"} 2',
      'tandem_replication_resync_regions_total{volume="vol-b"} 0',
      'tandem_replication_resync_bytes_total{volume="vol-a"} 2097152',
      'tandem_replication_resync_bytes_total{volume="vol-b"} 0',
      'tandem_replication_applied_ops_total{volume="vol-a"} 0',
      'tandem_replication_applied_ops_total{volume="vol-b"} 5',
      'tandem_replication_applied_bytes_total{volume="vol-a"} 0',
      'tandem_replication_applied_bytes_total{volume="vol-b"} 0',
      'tandem_replication_degraded_writes_total{volume="vol-a"} 1',
      'tandem_replication_degraded_writes_total{volume="vol-b"} 0',
      'tandem_replication_fenced_writes_total{volume="vol-a"} 0',
      'tandem_replication_fenced_writes_total{volume="vol-b"} 0',
    ]);
  });

  it('drops the series of a volume no longer served', async () => {
    volumes = [status({ volume: 'vol-b', role: 'replica' })];
    await new Promise((r) => setImmediate(r));
    const l = await lines(metrics, 'tandem_replication_');
    expect(l.filter((x) => x.includes('vol-a'))).toEqual([]);
    expect(l).toContain('tandem_replication_role{volume="vol-b"} 0');
  });

  it('reads status() once per scrape', async () => {
    let calls = 0;
    const m = new Metrics({
      sessions: () => [],
      aluaStates: () => [],
      replication: () => {
        calls++;
        return [status({ volume: 'v' })];
      },
    });
    await m.registry.metrics();
    expect(calls).toBe(1);
  });

  it('exports no replication series without a replication source', async () => {
    const m = new Metrics({ sessions: () => [], aluaStates: () => [] });
    expect((await m.registry.metrics()).includes('tandem_replication_')).toBe(false);
  });
});

describe('tandem_scsi_stage_seconds', () => {
  it("records each stage the observer is told of under the LU's labels", async () => {
    const m = new Metrics({ sessions: () => [], aluaStates: () => [] });
    const obs = m.observerFor(T);
    obs.stage(0, 'receive', 0.002);
    obs.stage(0, 'queue', 0.00001);
    obs.stage(0, 'transmit', 0.0003);
    obs.stage(0, 'transmit', 0.0001);
    const l = await lines(m, 'tandem_scsi_stage_seconds_');
    const at = (suffix: string, stage: string) =>
      l.find((x) =>
        x.startsWith(`tandem_scsi_stage_seconds_${suffix}{target="${T}",lun="0",stage="${stage}"}`),
      );
    expect(at('count', 'receive')).toMatch(/ 1$/);
    expect(at('sum', 'receive')).toMatch(/ 0\.002$/);
    expect(at('count', 'queue')).toMatch(/ 1$/);
    expect(at('count', 'transmit')).toMatch(/ 2$/);
    // A stage never observed (replication on a local volume) has no series.
    expect(at('count', 'replication')).toBeUndefined();
    expect(l).toContain(
      `tandem_scsi_stage_seconds_bucket{le="0.00005",target="${T}",lun="0",stage="queue"} 1`,
    );
  });

  it('times the data-path calls of a device into the backstore stage, one observation per call', async () => {
    const m = new Metrics({ sessions: () => [], aluaStates: () => [] });
    const inner = new MemoryDevice(1 << 20);
    const dev = m.timeDevice(inner, T, 3);
    expect(dev.size).toBe(inner.size);
    expect(dev.description).toBe(inner.description);
    expect(typeof dev.discard).toBe(typeof inner.discard);
    expect(typeof dev.allocation).toBe(typeof inner.allocation);
    expect(dev.prefetch).toBeUndefined();
    expect(dev.discardGranularity).toBe(inner.discardGranularity);
    await dev.write(4096, Buffer.alloc(4096, 0xa5), false);
    expect((await dev.read(4096, 4096)).every((b) => b === 0xa5)).toBe(true);
    await dev.flush();
    const failing = m.timeDevice(
      {
        ...inner,
        size: inner.size,
        description: 'failing',
        read: () => Promise.reject(new Error('EIO')),
      } as never,
      T,
      3,
    );
    await expect(failing.read(0, 4096)).rejects.toThrow('EIO');
    const count = (await lines(m, 'tandem_scsi_stage_seconds_count')).find((x) =>
      x.includes('lun="3",stage="backstore"'),
    );
    // A failed call is timed too.
    expect(count).toBe(`tandem_scsi_stage_seconds_count{target="${T}",lun="3",stage="backstore"} 4`);
  });
});
