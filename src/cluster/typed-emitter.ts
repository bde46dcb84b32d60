import type { Logger } from '../util/logger.js';

// biome-ignore lint/suspicious/noExplicitAny: listener parameter lists vary per event
type Listener = (...args: any[]) => void;

/**
 * A minimal typed event emitter. A listener that throws is logged and does not stop the others
 * or the state machine that emitted (a broken handler must not keep a fenced node serving).
 */
export class TypedEmitter<Events extends { [K in keyof Events]: Listener }> {
  readonly #listeners = new Map<keyof Events, Set<Listener>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (err) {
        this.#logger.error({ err, event: String(event) }, 'cluster event listener threw');
      }
    }
  }
}
