import type { Logger } from './logger.js';

/**
 * A state holder whose only mutator is a guarded `transition(from[], to)` that logs `FROM -> TO`
 * (grpc-js `transitionToState`). A transition from a state not in `from` changes nothing and
 * returns false: callers racing with another path (a timer and a watch both noticing the loss of
 * a lease) lose quietly instead of firing an event twice.
 */
export class StateMachine<S extends string> {
  #state: S;
  readonly #logger: Logger;
  readonly #what: string;
  readonly #onChange: ((from: S, to: S) => void) | undefined;

  constructor(what: string, initial: S, logger: Logger, onChange?: (from: S, to: S) => void) {
    this.#what = what;
    this.#state = initial;
    this.#logger = logger;
    this.#onChange = onChange;
  }

  get state(): S {
    return this.#state;
  }

  is(...states: readonly S[]): boolean {
    return states.includes(this.#state);
  }

  transition(from: readonly S[], to: S, fields: Record<string, unknown> = {}): boolean {
    const prev = this.#state;
    if (!from.includes(prev)) {
      this.#logger.debug(
        { ...fields, from: prev, to, allowed: from },
        `${this.#what}: ignored ${prev} -> ${to}`,
      );
      return false;
    }
    if (prev === to) return true;
    this.#state = to;
    this.#logger.info(
      { ...fields, from: prev, to },
      `${this.#what}: ${prev.toUpperCase()} -> ${to.toUpperCase()}`,
    );
    this.#onChange?.(prev, to);
    return true;
  }
}
