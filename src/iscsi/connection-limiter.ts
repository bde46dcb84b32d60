/**
 * Node-wide caps on iSCSI connections (DESIGN.md, "Trust": every resource a remote party can
 * make the node hold is bounded). Checked when a TCP connection is accepted, before a byte of
 * it is read: past a cap the socket is closed at once, so a flood of idle or half-sent logins
 * cannot fill the descriptor table that logins of real hosts and backing stores need.
 */
export interface ConnectionLimits {
  /** Connections from one source address (default 64: a host has a few per path). */
  perSource: number;
  /** Connections in total (default 1024). */
  total: number;
  /** Connections that have not finished login (default 128); the login timeout ends them. */
  inLogin: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { perSource: 64, total: 1024, inLogin: 128 };

export type ConnectionRefusal = 'per-source' | 'total' | 'in-login';

/** What the limiter needs of a connection it counts. */
export interface CountedConnection {
  /** Whether the connection is still in its login phase (no session yet). */
  readonly inLogin: boolean;
}

export class ConnectionLimiter {
  readonly limits: ConnectionLimits;
  readonly #bySource = new Map<string, number>();
  readonly #all = new Set<CountedConnection>();
  readonly refusals: Record<ConnectionRefusal, number> = { 'per-source': 0, total: 0, 'in-login': 0 };

  constructor(limits: Partial<ConnectionLimits> = {}) {
    this.limits = { ...DEFAULT_CONNECTION_LIMITS, ...limits };
  }

  get count(): number {
    return this.#all.size;
  }

  /**
   * Whether a new connection from `source` may be accepted; when it may, the caller registers it
   * with add() at once (no await in between: accept and count are one step).
   */
  check(source: string): ConnectionRefusal | undefined {
    let refusal: ConnectionRefusal | undefined;
    if (this.#all.size >= this.limits.total) refusal = 'total';
    else if ((this.#bySource.get(source) ?? 0) >= this.limits.perSource) refusal = 'per-source';
    else if (this.#all.size >= this.limits.inLogin && this.#loggingIn() >= this.limits.inLogin)
      refusal = 'in-login';
    if (refusal) this.refusals[refusal]++;
    return refusal;
  }

  /** Counts an accepted connection; the returned function uncounts it (idempotent). */
  add(source: string, conn: CountedConnection): () => void {
    this.#all.add(conn);
    this.#bySource.set(source, (this.#bySource.get(source) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#all.delete(conn);
      const n = (this.#bySource.get(source) ?? 1) - 1;
      if (n <= 0) this.#bySource.delete(source);
      else this.#bySource.set(source, n);
    };
  }

  /** Counted lazily (only once the total could exceed the cap): logins end by themselves. */
  #loggingIn(): number {
    let n = 0;
    for (const c of this.#all) if (c.inLogin) n++;
    return n;
  }
}
