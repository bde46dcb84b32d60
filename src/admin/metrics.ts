import type http from 'node:http';
import type https from 'node:https';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { BlockDevice, Extent } from '../backstore/block-device.js';
import type { ReplicationStatus } from '../replication/replication-interface.js';
import type { CommandClass, CommandObserver, Stage } from '../scsi/observer.js';
import { ScsiStatus } from '../scsi/spec/status.js';
import type { Logger } from '../util/logger.js';
import { createMetricsServer, isLoopbackHost, type MetricsWeb } from './metrics-web.js';

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

/** 50 µs to 10 s. */
export const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

const STATUS_NAME = new Map<number, string>(Object.entries(ScsiStatus).map(([k, v]) => [v, k]));

type Inc = { inc(n?: number): void };
type Obs = { observe(v: number): void };

interface LunChildren {
  readonly commands: Record<CommandClass, Inc>;
  readonly seconds: Record<CommandClass, Obs>;
  readonly bytesIn: Inc;
  readonly bytesOut: Inc;
  readonly errors: Map<number, Inc>;
  readonly stages: Record<Stage, Obs>;
}

/** The node's Prometheus registry and its `/metrics` HTTP listener. */
export class Metrics {
  readonly registry = new Registry();
  readonly #commands: SeriesCounter;
  readonly #bytes: SeriesCounter;
  readonly #seconds: SeriesHistogram;
  readonly #errors: Counter<'target' | 'lun' | 'status'>;
  readonly #stages: SeriesHistogram;
  #server: http.Server | https.Server | undefined;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#commands = new SeriesCounter(
      'tandem_scsi_commands_total',
      'SCSI commands completed, per LU and command class',
    );
    this.#bytes = new SeriesCounter(
      'tandem_scsi_bytes_total',
      'Bytes transferred by successful SCSI commands (in: data-in, out: data-out)',
    );
    this.#seconds = new SeriesHistogram(
      'tandem_scsi_command_seconds',
      'SCSI command latency in the engine, per LU and command class',
    );
    for (const m of [this.#commands, this.#bytes, this.#seconds]) this.registry.registerMetric(m as never);
    this.#errors = new Counter({
      name: 'tandem_scsi_errors_total',
      help: 'SCSI commands completed with a status other than GOOD',
      labelNames: ['target', 'lun', 'status'],
      registers,
    });
    this.#stages = new SeriesHistogram(
      'tandem_scsi_stage_seconds',
      'SCSI command latency per stage, per LU: receive (first header to data-out complete), queue (task-set ordering), backstore (each BlockDevice call), replication (peer acks beyond the local write), transmit (response ready to written to the socket)',
    );
    this.registry.registerMetric(this.#stages as never);
    new Gauge({
      name: 'tandem_iscsi_sessions',
      help: 'Live iSCSI normal sessions, per target and portal',
      labelNames: ['target', 'portal'],
      registers,
      collect() {
        this.reset();
        for (const s of sources.sessions()) this.labels(s.target, s.portal).inc();
      },
    });
    new Gauge({
      name: 'tandem_alua_state',
      help: "This node's asymmetric access state of each volume (SPC-4 code: 0 active/optimized, 1 non-optimized, 2 standby, 3 unavailable, 14 offline, 15 transitioning)",
      labelNames: ['volume', 'group'],
      registers,
      collect() {
        this.reset();
        for (const a of sources.aluaStates()) this.labels(a.volume, String(a.group)).set(a.state);
      },
    });
    if (sources.replication) registerReplication(registers, sources.replication.bind(sources));
    if (sources.refusals) {
      const refusals = sources.refusals.bind(sources);
      new Counter({
        name: 'tandem_iscsi_refusals_total',
        help: 'What the iSCSI layer refused or held back, by kind: connections-per-source, connections-total, connections-in-login (TCP closed at accept), sessions-per-initiator (login OUT OF RESOURCES), task-set-full (TASK SET FULL / BUSY), immediate-command-reject (Reject 0x06), memory-connection and memory-node (a command waited for the memory budget)',
        labelNames: ['kind'],
        registers,
        collect() {
          this.reset();
          for (const [kind, n] of refusals()) this.labels(kind).inc(n);
        },
      });
    }
  }

  /** Stage histograms of one LU, created on first use (label children are cached). */
  #stageChildren(target: string, lun: string): Record<Stage, Obs> {
    const h = this.#stages;
    return {
      receive: h.series({ target, lun, stage: 'receive' }),
      queue: h.series({ target, lun, stage: 'queue' }),
      backstore: h.series({ target, lun, stage: 'backstore' }),
      replication: h.series({ target, lun, stage: 'replication' }),
      transmit: h.series({ target, lun, stage: 'transmit' }),
    };
  }

  /**
   * `device` with its data-path calls (read, write, flush, discard) timed into the backstore
   * stage of TARGET/LUN: one observation per call, which for READ and WRITE is one per command.
   */
  timeDevice(device: BlockDevice, target: string, lun: number): BlockDevice {
    return new TimedDevice(device, this.#stages.series({ target, lun: String(lun), stage: 'backstore' }));
  }

  /** The observer to set on one target's engine; label children are cached per LUN. */
  observerFor(target: string): CommandObserver {
    const luns = new Map<number, LunChildren>();
    const children = (lun: number): LunChildren => {
      const l = String(lun);
      const c: LunChildren = {
        commands: {
          read: this.#commands.series({ target, lun: l, class: 'read' }),
          write: this.#commands.series({ target, lun: l, class: 'write' }),
          other: this.#commands.series({ target, lun: l, class: 'other' }),
        },
        seconds: {
          read: this.#seconds.series({ target, lun: l, class: 'read' }),
          write: this.#seconds.series({ target, lun: l, class: 'write' }),
          other: this.#seconds.series({ target, lun: l, class: 'other' }),
        },
        bytesIn: this.#bytes.series({ target, lun: l, direction: 'in' }),
        bytesOut: this.#bytes.series({ target, lun: l, direction: 'out' }),
        errors: new Map(),
        stages: this.#stageChildren(target, l),
      };
      luns.set(lun, c);
      return c;
    };
    const errors = this.#errors;
    return {
      completed(lun, cls, bytesIn, bytesOut, seconds, status) {
        const c = luns.get(lun) ?? children(lun);
        c.commands[cls].inc();
        c.seconds[cls].observe(seconds);
        if (bytesIn > 0) c.bytesIn.inc(bytesIn);
        if (bytesOut > 0) c.bytesOut.inc(bytesOut);
        if (status !== ScsiStatus.GOOD) {
          let e = c.errors.get(status);
          if (!e) {
            e = errors.labels(target, String(lun), STATUS_NAME.get(status) ?? `0x${status.toString(16)}`);
            c.errors.set(status, e);
          }
          e.inc();
        }
      },
      stage(lun, stage, seconds) {
        (luns.get(lun) ?? children(lun)).stages[stage].observe(seconds);
      },
    };
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

type Labels = Readonly<Record<string, string>>;

/** One series of a SeriesHistogram: plain numbers, no allocation per observation. */
class HistogramSeries implements MetricSeries {
  readonly labels: Labels;
  /** Per bucket of LATENCY_BUCKETS (not cumulative); the last one is +Inf. */
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  constructor(labels: Labels) {
    this.labels = labels;
  }

  observe(v: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && v > LATENCY_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

interface MetricSeries {
  readonly labels: Labels;
  reset(): void;
}

/**
 * A metric registered as a custom prom-client metric whose series are plain numbers read at
 * scrape time. The data path updates several per command; prom-client's label children hash
 * their labels on every call. Series never updated are not shown.
 */
abstract class SeriesMetric<S extends MetricSeries> {
  readonly aggregator = 'sum';
  abstract readonly type: string;
  readonly #series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly create: (labels: Labels) => S,
  ) {}

  series(labels: Labels): S {
    const key = Object.values(labels).join('\0');
    let s = this.#series.get(key);
    if (!s) {
      s = this.create(labels);
      this.#series.set(key, s);
    }
    return s;
  }

  protected abstract values(s: S): object[];

  get(): { name: string; help: string; type: string; aggregator: string; values: object[] } {
    const values: object[] = [];
    for (const s of this.#series.values()) values.push(...this.values(s));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.#series.values()) s.reset();
  }
}

/** A histogram of LATENCY_BUCKETS. */
class SeriesHistogram extends SeriesMetric<HistogramSeries> {
  readonly type = 'histogram';

  constructor(name: string, help: string) {
    super(name, help, (labels) => new HistogramSeries(labels));
  }

  protected values(s: HistogramSeries): object[] {
    if (s.count === 0) return [];
    const bucket = `${this.name}_bucket`;
    const values: object[] = [];
    let acc = 0;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      acc += s.counts[i]!;
      values.push({ metricName: bucket, labels: { le: LATENCY_BUCKETS[i]!, ...s.labels }, value: acc });
    }
    values.push({ metricName: bucket, labels: { le: '+Inf', ...s.labels }, value: s.count });
    values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
    values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    return values;
  }
}

/** One series of a SeriesCounter. */
class CounterSeries implements MetricSeries {
  value = 0;
  touched = false;
  constructor(readonly labels: Labels) {}

  inc(n = 1): void {
    this.value += n;
    this.touched = true;
  }

  reset(): void {
    this.value = 0;
    this.touched = false;
  }
}

class SeriesCounter extends SeriesMetric<CounterSeries> {
  readonly type = 'counter';

  constructor(name: string, help: string) {
    super(name, help, (labels) => new CounterSeries(labels));
  }

  protected values(s: CounterSeries): object[] {
    return s.touched ? [{ labels: s.labels, value: s.value }] : [];
  }
}

/** A BlockDevice whose data-path calls are timed (the backstore stage); the rest pass through. */
class TimedDevice implements BlockDevice {
  readonly #inner: BlockDevice;
  readonly #seconds: Obs;
  readonly description: string;
  readonly discardGranularity?: number;
  readonly discard?: (offset: number, length: number) => Promise<void>;
  readonly allocation?: (offset: number, length: number) => Promise<Extent>;
  readonly prefetch?: (offset: number, length: number) => Promise<void>;
  readonly grow?: (size: number) => Promise<void>;
  readonly submitWrites?: () => void;

  constructor(inner: BlockDevice, seconds: Obs) {
    this.#inner = inner;
    this.#seconds = seconds;
    if (inner.grow) this.grow = inner.grow.bind(inner);
    this.description = inner.description;
    // Optional members stay absent when the device lacks them (their absence means something).
    if (inner.discardGranularity !== undefined) this.discardGranularity = inner.discardGranularity;
    if (inner.discard) {
      const discard = inner.discard.bind(inner);
      this.discard = (offset, length) => {
        const t0 = performance.now();
        return this.#timed(discard(offset, length), t0);
      };
    }
    if (inner.allocation) this.allocation = inner.allocation.bind(inner);
    if (inner.prefetch) this.prefetch = inner.prefetch.bind(inner);
    if (inner.submitWrites) this.submitWrites = inner.submitWrites.bind(inner);
  }

  /** The inner device's: it can grow. */
  get size(): number {
    return this.#inner.size;
  }

  read(offset: number, length: number): Promise<Buffer> {
    const t0 = performance.now();
    return this.#timed(this.#inner.read(offset, length), t0);
  }

  write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    const t0 = performance.now();
    return this.#timed(this.#inner.write(offset, data, fua), t0);
  }

  flush(): Promise<void> {
    const t0 = performance.now();
    return this.#timed(this.#inner.flush(), t0);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  async #timed<T>(p: Promise<T>, t0: number): Promise<T> {
    try {
      return await p;
    } finally {
      this.#seconds.observe((performance.now() - t0) / 1000);
    }
  }
}

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
function registerReplication(registers: Registry[], source: () => Iterable<ReplicationStatus>): void {
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
