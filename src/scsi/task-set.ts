import type { ItNexus, TransportCommand } from './command.js';
import { ScsiStatus, TaskAttribute } from './spec/status.js';

/** One task in an LU's task set (SAM-5 8.2). */
export interface Task {
  readonly cmd: TransportCommand;
  readonly nexus: ItNexus;
  readonly tag: number;
  /** Settles when the task has finished executing (whatever its outcome). */
  readonly done: Promise<void>;
  /** Set when a TMF or a nexus loss aborted it. */
  aborted: boolean;
  /** Whether the task was aborted through a nexus other than its own (TAS matters then). */
  abortedByOther: boolean;
}

/**
 * Orders the execution of an LU's tasks by task attribute (SAM-5 8.6): SIMPLE tasks run in
 * parallel, an ORDERED task waits for every task before it and holds back every task after
 * it, HEAD OF QUEUE runs at once.
 */
export class TaskSet {
  readonly #tasks = new Set<Task>();
  /** Settles when the most recent ORDERED task has completed. */
  #barrier: Promise<void> = Promise.resolve();

  get size(): number {
    return this.#tasks.size;
  }

  tasks(): Iterable<Task> {
    return this.#tasks;
  }

  /**
   * Adds a task and runs `body` when its attribute allows; resolves with body's result.
   * The returned task is registered before this function returns.
   */
  run<T>(cmd: TransportCommand, body: (task: Task) => Promise<T>): { task: Task; result: Promise<T> } {
    let finish!: () => void;
    const done = new Promise<void>((r) => {
      finish = r;
    });
    const task: Task = { cmd, nexus: cmd.nexus, tag: cmd.tag, done, aborted: false, abortedByOther: false };
    let gate: Promise<unknown>;
    if (cmd.attribute === TaskAttribute.HEAD_OF_QUEUE) {
      gate = Promise.resolve();
    } else if (cmd.attribute === TaskAttribute.ORDERED) {
      gate = Promise.all([this.#barrier, ...[...this.#tasks].map((t) => t.done)]);
      this.#barrier = done;
    } else {
      gate = this.#barrier;
    }
    this.#tasks.add(task);
    const result = gate
      .then(() => body(task))
      .finally(() => {
        this.#tasks.delete(task);
        finish();
      });
    return { task, result };
  }
}

/**
 * The status of a command refused because the task set has no room for it (SAM-5 5.3.3,
 * 5.3.4): TASK SET FULL when its I_T nexus has at least one task in the task set (the
 * initiator learns to send fewer), BUSY when it has none (it is told to retry later).
 */
export function taskSetFullStatus(tasksOfNexus: number): number {
  return tasksOfNexus > 0 ? ScsiStatus.TASK_SET_FULL : ScsiStatus.BUSY;
}
