import http from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CommandClass, CommandObserver } from '../scsi/observer.js';
import { ScsiStatus } from '../scsi/spec/status.js';
import type { Logger } from '../util/logger.js';

/** What the node reports at scrape time (the composition root supplies it). */
export interface MetricsSources {
  /** One entry per live normal session. */
  sessions(): Iterable<{ target: string; portal: string }>;
  /** Cluster mode: this node's ALUA state (SPC-4 code) of each volume it serves. */
  aluaStates(): Iterable<{ volume: string; group: number; state: number }>;
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
}

/** The node's Prometheus registry and its `/metrics` HTTP listener. */
export class Metrics {
  readonly registry = new Registry();
  readonly #commands: Counter<'target' | 'lun' | 'class'>;
  readonly #bytes: Counter<'target' | 'lun' | 'direction'>;
  readonly #seconds: Histogram<'target' | 'lun' | 'class'>;
  readonly #errors: Counter<'target' | 'lun' | 'status'>;
  #server: http.Server | undefined;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#commands = new Counter({
      name: 'tandem_scsi_commands_total',
      help: 'SCSI commands completed, per LU and command class',
      labelNames: ['target', 'lun', 'class'],
      registers,
    });
    this.#bytes = new Counter({
      name: 'tandem_scsi_bytes_total',
      help: 'Bytes transferred by successful SCSI commands (in: data-in, out: data-out)',
      labelNames: ['target', 'lun', 'direction'],
      registers,
    });
    this.#seconds = new Histogram({
      name: 'tandem_scsi_command_seconds',
      help: 'SCSI command latency in the engine, per LU and command class',
      labelNames: ['target', 'lun', 'class'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#errors = new Counter({
      name: 'tandem_scsi_errors_total',
      help: 'SCSI commands completed with a status other than GOOD',
      labelNames: ['target', 'lun', 'status'],
      registers,
    });
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
  }

  /** The observer to set on one target's engine; label children are cached per LUN. */
  observerFor(target: string): CommandObserver {
    const luns = new Map<number, LunChildren>();
    const children = (lun: number): LunChildren => {
      const l = String(lun);
      const c: LunChildren = {
        commands: {
          read: this.#commands.labels(target, l, 'read'),
          write: this.#commands.labels(target, l, 'write'),
          other: this.#commands.labels(target, l, 'other'),
        },
        seconds: {
          read: this.#seconds.labels(target, l, 'read'),
          write: this.#seconds.labels(target, l, 'write'),
          other: this.#seconds.labels(target, l, 'other'),
        },
        bytesIn: this.#bytes.labels(target, l, 'in'),
        bytesOut: this.#bytes.labels(target, l, 'out'),
        errors: new Map(),
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
    };
  }

  /** Serves `GET /metrics` on HOST:PORT (port 0: the kernel picks one). */
  async listen(host: string, port: number, log: Logger): Promise<void> {
    const server = http.createServer((req, res) => {
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
