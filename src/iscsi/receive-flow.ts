import type { Socket } from 'node:net';

/** Why reading from the socket stops: the peer does not read our output, or memory is short. */
export type PauseReason = 'output' | 'budget';

/** Whether the connection reads from its socket, and if not, why (each reason its own bit). */
export type ReceiveFlowState = 'reading' | 'paused';

const BIT: Record<PauseReason, number> = { output: 1, budget: 2 };

/**
 * The one place a connection pauses and resumes reading its socket. Output backpressure (the
 * writer past its high water, until 'drain') and the memory budget (PDUs held past twice the
 * connection's budget, until memory frees) each hold the socket paused; it reads again only once
 * neither does.
 */
export class ReceiveFlow {
  readonly #socket: Socket;
  #paused = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  get state(): ReceiveFlowState {
    return this.#paused === 0 ? 'reading' : 'paused';
  }

  isPaused(reason: PauseReason): boolean {
    return (this.#paused & BIT[reason]) !== 0;
  }

  pause(reason: PauseReason): void {
    if (this.#paused === 0) this.#socket.pause();
    this.#paused |= BIT[reason];
  }

  resume(reason: PauseReason): void {
    if ((this.#paused & BIT[reason]) === 0) return;
    this.#paused &= ~BIT[reason];
    if (this.#paused === 0 && !this.#socket.destroyed) this.#socket.resume();
  }
}
