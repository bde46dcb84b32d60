import type { CommandObserver } from '../scsi/observer.js';
import type { IscsiTask } from './task.js';

/**
 * Per-stage latency stamps of one connection's tasks (kept only when the target keeps
 * statistics: with no observer every method is a test and a return). The receive stage starts
 * at the socket read that completed a command's header; the transmit stage ends once the kernel
 * has the write batch that carried its response.
 */
export class StageClock {
  #observer: CommandObserver | undefined;
  /** performance.now() of the latest socket read, and of the one that completed a header. */
  #rxAt = 0;
  #headerAt = 0;
  /** Tasks whose response is queued in the current write batch (transmit stage). */
  #transmitting: IscsiTask[] = [];
  readonly #whenSent: (cb: () => void) => void;

  /** `whenSent` runs its callback once the kernel has every byte queued so far. */
  constructor(whenSent: (cb: () => void) => void) {
    this.#whenSent = whenSent;
  }

  /** Login completed: stamps are kept from now on when the target has an observer. */
  start(observer: CommandObserver | undefined): void {
    this.#observer = observer;
    if (observer) this.#rxAt = performance.now();
  }

  /** A socket read arrived. */
  received(): void {
    if (this.#observer) this.#rxAt = performance.now();
  }

  /** The reader verified a PDU header. */
  header(): void {
    this.#headerAt = this.#rxAt;
  }

  /** A command starts: it keeps the stamp of the PDU that released it (held back for CmdSN order). */
  arrived(task: IscsiTask): void {
    if (this.#observer) task.arrivedAt = this.#headerAt;
  }

  /** Data-Out for `task` arrived. */
  dataOut(task: IscsiTask): void {
    if (task.arrivedAt) task.dataOutAt = this.#rxAt;
  }

  /** `task`'s response is queued in the current write batch. */
  ready(task: IscsiTask): void {
    if (!task.arrivedAt) return;
    task.readyAt = performance.now();
    this.#transmitting.push(task);
  }

  /** End of a write batch: its tasks' transmit stage ends once the kernel has the bytes. */
  flush(destroyed: boolean): void {
    const batch = this.#transmitting;
    if (batch.length === 0 || destroyed) return;
    this.#transmitting = [];
    this.#whenSent(() => this.#transmitted(batch));
  }

  #transmitted(batch: IscsiTask[]): void {
    const obs = this.#observer;
    if (!obs) return;
    const now = performance.now();
    for (const t of batch) obs.stage(t.lun, 'transmit', (now - t.readyAt) / 1000);
  }
}
