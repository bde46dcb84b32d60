/** Command class for per-LU statistics: by the opcode row's data direction and medium access. */
export type CommandClass = 'read' | 'write' | 'other';

/**
 * Per-stage latency of one command (seconds, from performance.now() stamps): receive — its
 * first PDU header arrived → its data-out is all in (or it was handed to the engine); queue —
 * handed to the engine → task-set ordering let it run; backstore — inside BlockDevice calls;
 * replication — waiting for peers beyond the local write; transmit — status/data ready → the
 * kernel has the bytes. Stages overlap (receive includes the queue time of a solicited write).
 */
export type Stage = 'receive' | 'queue' | 'backstore' | 'replication' | 'transmit';

/**
 * Told of every command an engine completes on an existing LU (set by the composition root;
 * the SCSI layer knows nothing of how it is exported). Called once per command, on the hot path:
 * implementations must not allocate beyond what their labels need.
 */
export interface CommandObserver {
  completed(
    lun: number,
    cls: CommandClass,
    bytesIn: number,
    bytesOut: number,
    seconds: number,
    status: number,
  ): void;
  /** One stage of one command on `lun` took `seconds` (hot path too: no allocation). */
  stage(lun: number, stage: Stage, seconds: number): void;
}

/** What commandClass reads of an opcode row (declared here to keep the observer a leaf). */
export interface ClassifiedRow {
  readonly direction: 'none' | 'in' | 'out';
  readonly writesMedium?: boolean;
}

/** read: data-in; write: writes the medium or carries data-out; other: everything else. */
export function commandClass(row: ClassifiedRow | string): CommandClass {
  if (typeof row === 'string') return 'other';
  if (row.direction === 'in') return 'read';
  if (row.writesMedium || row.direction === 'out') return 'write';
  return 'other';
}
