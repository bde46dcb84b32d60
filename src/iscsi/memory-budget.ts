/**
 * Memory a remote party can make the node hold (DESIGN.md, "Trust"): data-out assembly and
 * Data-In of commands in flight, commands and out-of-order PDUs waiting to be dispatched. Each
 * connection has an account with its own limit, drawn from one node-wide budget, so one session
 * cannot take what the others need. Charges are reservations made before a command runs (its
 * expected transfer length), released once its response has been handed to the kernel.
 */
export interface MemoryBudgetLimits {
  /** Bytes one connection may hold (default 32 MiB). */
  connection: number;
  /** Bytes all connections together may hold (default 512 MiB). */
  node: number;
  /**
   * A connection that holds nothing may always take one command up to this size, whatever the
   * node budget says (default 256 KiB): small I/O of every session keeps moving while bulk
   * transfers wait. Bounded by the connection caps (total × this).
   */
  guaranteed: number;
}

export const DEFAULT_MEMORY_BUDGET: MemoryBudgetLimits = {
  connection: 32 << 20,
  node: 512 << 20,
  guaranteed: 256 << 10,
};

/** Why a charge was refused: the connection's own limit, or the node's. */
export type BudgetRefusal = 'connection' | 'node';

/** The node-wide budget; connections draw from it through their accounts. */
export class MemoryBudget {
  readonly limits: MemoryBudgetLimits;
  #used = 0;
  /** Accounts that were refused and wait for memory to be freed. */
  readonly #waiting = new Set<BudgetAccount>();
  #notifying = false;
  /** Commands held back so far (counted once each), by which limit held them. */
  readonly refusals: Record<BudgetRefusal, number> = { connection: 0, node: 0 };
  /** The most ever held at once (for tests and the soak report). */
  peak = 0;

  constructor(limits: Partial<MemoryBudgetLimits> = {}) {
    this.limits = { ...DEFAULT_MEMORY_BUDGET, ...limits };
  }

  get used(): number {
    return this.#used;
  }

  account(onFree: () => void): BudgetAccount {
    return new BudgetAccount(this, onFree);
  }

  /** @internal */
  add(n: number): void {
    this.#used += n;
    if (this.#used > this.peak) this.peak = this.#used;
  }

  /** @internal */
  sub(n: number): void {
    this.#used -= n;
    if (this.#waiting.size > 0 && !this.#notifying) {
      // Woken on the next turn: a release runs inside a send callback or a completion, and the
      // woken connection dispatches PDUs, which must not happen inside another one's stack.
      this.#notifying = true;
      setImmediate(() => {
        this.#notifying = false;
        const all = [...this.#waiting];
        this.#waiting.clear();
        for (const a of all) a.wake();
      });
    }
  }

  /** @internal */
  wait(a: BudgetAccount): void {
    this.#waiting.add(a);
  }

  /** @internal */
  forget(a: BudgetAccount): void {
    this.#waiting.delete(a);
  }
}

/** One connection's share of the node budget. */
export class BudgetAccount {
  readonly #budget: MemoryBudget;
  readonly #onFree: () => void;
  #used = 0;
  #closed = false;

  constructor(budget: MemoryBudget, onFree: () => void) {
    this.#budget = budget;
    this.#onFree = onFree;
  }

  get used(): number {
    return this.#used;
  }

  /**
   * Reserves `n` bytes, or says which limit refuses them; a refused account is woken (its
   * `onFree` runs) once memory is released anywhere on the node. A connection that holds
   * nothing always gets its first command from its own limit (else a command larger than the
   * limit could never run), and from the node's when it is at most `guaranteed`. `count`:
   * false when retrying a command already counted as held back.
   */
  tryCharge(n: number, count = true): BudgetRefusal | undefined {
    const l = this.#budget.limits;
    let refusal: BudgetRefusal | undefined;
    if (this.#used > 0 && this.#used + n > l.connection) refusal = 'connection';
    else if (this.#budget.used + n > l.node && !(this.#used === 0 && n <= l.guaranteed)) refusal = 'node';
    if (refusal) {
      if (count) this.#budget.refusals[refusal]++;
      if (!this.#closed) this.#budget.wait(this);
      return refusal;
    }
    this.force(n);
    return undefined;
  }

  /** Charges memory the connection holds already (bytes received): never refused. */
  force(n: number): void {
    this.#used += n;
    this.#budget.add(n);
  }

  release(n: number): void {
    // After close() everything went back at once; the late releases of its tasks are no-ops.
    if (n <= 0 || this.#closed) return;
    this.#used -= n;
    this.#budget.sub(n);
  }

  /** The connection closed: what it still holds goes back (its buffers are dropped). */
  close(): void {
    if (this.#closed) return;
    this.#budget.forget(this);
    this.release(this.#used);
    this.#closed = true;
  }

  /** @internal */
  wake(): void {
    if (!this.#closed) this.#onFree();
  }
}
