import type http from 'node:http';
import type https from 'node:https';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { BlockDevice } from '../backstore/block-device.js';
import type { ReplicationStatus } from '../replication/replication-interface.js';
import type { CommandObserver } from '../scsi/observer.js';
import type { Logger } from '../util/logger.js';
import { registerAlua } from './metrics-cluster.js';
import { registerRefusals, registerSessions } from './metrics-iscsi.js';
import { registerReplication } from './metrics-replication.js';
import { ScsiMetrics } from './metrics-scsi.js';
import { createMetricsServer, isLoopbackHost, type MetricsWeb } from './metrics-web.js';

export { LATENCY_BUCKETS } from './metrics-series.js';

/** What the node reports at scrape time (the composition root supplies it). */
export interface MetricsSources {
  /** One entry per live normal session. */
  sessions(): Iterable<{ target: string; portal: string }>;
  /** Cluster mode: this node's ALUA state (SPC-4 code) of each volume it serves. */
  aluaStates(): Iterable<{ volume: string; group: number; state: number }>;
  /** Cluster mode: the status of each replicated volume served here (read at scrape time). */
  replication?(): Iterable<ReplicationStatus>;
  /** iSCSI refusals and budget waits since start, by kind (src/iscsi/limits.ts RefusalKind). */
  refusals?(): Iterable<[kind: string, count: number]>;
}

/**
 * The node's Prometheus registry and its `/metrics` HTTP listener. The series are defined per
 * subsystem: metrics-scsi.ts (engine), metrics-iscsi.ts (sessions, refusals), metrics-cluster.ts
 * (ALUA), metrics-replication.ts (replication and resync); registered in this order, which is
 * the order of the exposition.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #scsi: ScsiMetrics;
  #server: http.Server | https.Server | undefined;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#scsi = new ScsiMetrics(this.registry);
    registerSessions(registers, () => sources.sessions());
    registerAlua(registers, () => sources.aluaStates());
    if (sources.replication) registerReplication(registers, sources.replication.bind(sources));
    if (sources.refusals) registerRefusals(registers, sources.refusals.bind(sources));
  }

  /**
   * `device` with its data-path calls (read, write, flush, discard) timed into the backstore
   * stage of TARGET/LUN: one observation per call, which for READ and WRITE is one per command.
   */
  timeDevice(device: BlockDevice, target: string, lun: number): BlockDevice {
    return this.#scsi.timeDevice(device, target, lun);
  }

  /** The observer to set on one target's engine; label children are cached per LUN. */
  observerFor(target: string): CommandObserver {
    return this.#scsi.observerFor(target);
  }

  /**
   * Serves `GET /metrics` on HOST:PORT (port 0: the kernel picks one); over TLS and behind basic
   * auth as `web` says (metrics-web.ts; default: plain HTTP, no auth).
   */
  async listen(host: string, port: number, log: Logger, web: MetricsWeb = {}): Promise<void> {
    if (!web.tls && !web.users && !isLoopbackHost(host)) {
      log.warn(
        { metrics: `${host}:${port}` },
        'metrics: plain HTTP without basicAuth on a non-loopback address: anyone who reaches it reads the metrics (metrics.tls, metrics.basicAuth)',
      );
    }
    const server = createMetricsServer(web, (req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: unknown) => {
          log.error({ err }, 'collecting metrics failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error({ err }, 'metrics listener error'));
    this.#server = server;
  }

  /** HOST:PORT the listener is bound to. */
  get address(): string | undefined {
    const a = this.#server?.address();
    if (!a || typeof a === 'string') return undefined;
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    this.#server = undefined;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
