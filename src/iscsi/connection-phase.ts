import type { Logger } from '../util/logger.js';
import { StateMachine } from '../util/state-machine.js';

/**
 * The phases of one connection (RFC 7143 6: login phase, full feature phase, then the end):
 * login → full-feature → logged-out → closed, and any phase → closed.
 */
export type ConnState = 'login' | 'full-feature' | 'logged-out' | 'closed';

/**
 * The one place a connection's phase changes: each change is a named step through the guarded
 * StateMachine.transition(), which logs FROM -> TO and refuses a step from the wrong phase.
 */
export class ConnectionPhase {
  readonly #sm: StateMachine<ConnState>;

  constructor(log: Logger) {
    this.#sm = new StateMachine<ConnState>('connection', 'login', log);
  }

  get state(): ConnState {
    return this.#sm.state;
  }

  /** The final login response went out (RFC 7143 6.3: it carries T = 1 and NSG = FFP). */
  loggedIn(): void {
    this.#sm.transition(['login'], 'full-feature');
  }

  /** The logout response went out (RFC 7143 11.15): nothing else is answered. */
  loggedOut(): void {
    this.#sm.transition(['full-feature'], 'logged-out');
  }

  /** The connection stops; false when it was closed already. */
  close(reason: string): boolean {
    return this.#sm.transition(['login', 'full-feature', 'logged-out'], 'closed', { reason });
  }
}
