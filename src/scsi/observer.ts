import type { AnyOpcodeRow } from './opcode-table.js';

/** Command class for per-LU statistics: by the opcode row's data direction and medium access. */
export type CommandClass = 'read' | 'write' | 'other';

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
}

/** read: data-in; write: writes the medium or carries data-out; other: everything else. */
export function commandClass(row: AnyOpcodeRow | string): CommandClass {
  if (typeof row === 'string') return 'other';
  if (row.direction === 'in') return 'read';
  if (row.writesMedium || row.direction === 'out') return 'write';
  return 'other';
}
