import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { StateMachine } from '../util/state-machine.js';
import type { ConfigEntry, JsonValue, SessionState, Subscription } from './coordinator.js';

/** The one epoch of an embedded node: nobody else can ever lead, so it never needs to grow. */
export const EMBEDDED_EPOCH = 1;

/** A value of an embedded store with the revision it was written at. */
export interface Stored {
  value: JsonValue;
  revision: number;
}

/**
 * What every part of the embedded coordinator shares, in the place of etcd's KV layer: one
 * revision counter (every write of every part counts from 1, like etcd's), the watch delivery,
 * and whether the coordinator is closed.
 */
export class EmbeddedStore {
  readonly nodeName: string;
  readonly logger: Logger;
  readonly #session: StateMachine<SessionState>;
  readonly #listenerSets: Set<unknown>[] = [];
  #revision = 1;

  constructor(nodeName: string, logger: Logger, session: StateMachine<SessionState>) {
    this.nodeName = nodeName;
    this.logger = logger;
    this.#session = session;
  }

  /** The revision of the latest write. */
  get revision(): number {
    return this.#revision;
  }

  /** A restored configuration continues its saved revisions. */
  restoreRevision(revision: number): void {
    this.#revision = Math.max(1, revision);
  }

  bump(): number {
    this.#revision += 1;
    return this.#revision;
  }

  get closed(): boolean {
    return this.#session.state === 'closed';
  }

  assertOpen(): void {
    if (this.closed) {
      throw new TandemError('TANDEM_ERR_CLUSTER_CLOSED', 'the coordinator is closed');
    }
  }

  /** A set of watch listeners, emptied when the coordinator closes. */
  listeners<L>(): Set<L> {
    const set = new Set<L>();
    this.#listenerSets.push(set as Set<unknown>);
    return set;
  }

  /** Drops every listener: deliveries still queued find nobody. */
  clearListeners(): void {
    for (const set of this.#listenerSets) set.clear();
  }

  subscribe<L>(set: Set<L>, listener: L): Subscription {
    set.add(listener);
    return { close: async () => void set.delete(listener) };
  }

  /** Delivers after the writer has its answer (next macrotask), in order, like an etcd watch. */
  deliver<L>(set: Set<L>, call: (l: L) => void): void {
    const targets = [...set];
    setImmediate(() => {
      for (const l of targets) {
        if (!set.has(l)) continue;
        try {
          call(l);
        } catch (err) {
          this.logger.error({ err }, 'watch listener threw');
        }
      }
    });
  }
}

export function clone(value: JsonValue): JsonValue {
  return structuredClone(value);
}

export function cloneEntry(e: ConfigEntry): ConfigEntry {
  return { ...e, value: clone(e.value) };
}
