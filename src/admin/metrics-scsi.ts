import { Counter, type Registry } from 'prom-client';
import type { BlockDevice } from '../backstore/block-device.js';
import type { CommandClass, CommandObserver, Stage } from '../scsi/observer.js';
import { ScsiStatus } from '../scsi/spec/status.js';
import { type Inc, type Obs, SeriesCounter, SeriesHistogram } from './metrics-series.js';
import { TimedDevice } from './metrics-timed-device.js';

const STATUS_NAME = new Map<number, string>(Object.entries(ScsiStatus).map(([k, v]) => [v, k]));

interface LunChildren {
  readonly commands: Record<CommandClass, Inc>;
  readonly seconds: Record<CommandClass, Obs>;
  readonly bytesIn: Inc;
  readonly bytesOut: Inc;
  readonly errors: Map<number, Inc>;
  readonly stages: Record<Stage, Obs>;
}

/** The SCSI engine's series: commands, bytes, latency and errors per LU, and the stage latencies. */
export class ScsiMetrics {
  readonly #commands: SeriesCounter;
  readonly #bytes: SeriesCounter;
  readonly #seconds: SeriesHistogram;
  readonly #errors: Counter<'target' | 'lun' | 'status'>;
  readonly #stages: SeriesHistogram;

  constructor(registry: Registry) {
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
    for (const m of [this.#commands, this.#bytes, this.#seconds]) registry.registerMetric(m as never);
    this.#errors = new Counter({
      name: 'tandem_scsi_errors_total',
      help: 'SCSI commands completed with a status other than GOOD',
      labelNames: ['target', 'lun', 'status'],
      registers: [registry],
    });
    this.#stages = new SeriesHistogram(
      'tandem_scsi_stage_seconds',
      'SCSI command latency per stage, per LU: receive (first header to data-out complete), queue (task-set ordering), backstore (each BlockDevice call), replication (peer acks beyond the local write), transmit (response ready to written to the socket)',
    );
    registry.registerMetric(this.#stages as never);
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
}
