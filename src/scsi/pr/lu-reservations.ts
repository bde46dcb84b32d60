import type { ItNexus, TransportCommand } from '../command.js';
import { reason } from '../sense-reason.js';
import { TaskAttribute } from '../spec/status.js';
import type { Task, TaskSet } from '../task-set.js';
import type { UnitAttentions } from '../unit-attention.js';
import { type CommandShape, conflictRuleFor, reservationConflict } from './conflict-table.js';
import { MemoryReservationStore } from './memory-store.js';
import { type PrinServiceActionCode, persistentReserveIn } from './prin.js';
import { type PrOutRequest, persistentReserveOut } from './prout.js';
import type { ReservationChange, ReservationStore } from './reservation-store-interface.js';
import type { PrOutcome, PrResult } from './result.js';
import { logicalUnitReset, nexusLoss, spc2Release, spc2Reserve } from './spc2.js';
import {
  covers,
  type NexusIdentity,
  type NexusMatch,
  type PrCapabilities,
  type ReservationState,
  sameNexus,
} from './state.js';

export interface LuReservationsOptions {
  /** Where the state lives; default: in memory, persisted to `aptplFile` while APTPL is set. */
  readonly store?: ReservationStore;
  /** Used by the default store only. */
  readonly aptplFile?: string;
}

const identities = new WeakMap<ItNexus, NexusIdentity>();

/** The transport-independent identity of an I_T nexus (iSCSI names compare case-insensitively). */
export function nexusIdentity(n: ItNexus): NexusIdentity {
  let id = identities.get(n);
  if (!id) {
    id = {
      initiator: n.initiatorName.toLowerCase(),
      isid: n.isid.toLowerCase(),
      relativePortId: n.targetPort.relativePortId,
    };
    identities.set(n, id);
  }
  return id;
}

/** A change that lost a compare-and-set is recomputed; this many losses in a row is a fault. */
const MAX_ATTEMPTS = 64;

/**
 * One LU's reservations on this node: the gate's conflict check, the command handlers' entry
 * points, and the application of every change (from this node or another) to the I_T nexuses
 * and tasks here. All decisions are made by the pure functions of this folder; this class only
 * moves their results through the ReservationStore.
 */
export class LuReservations {
  readonly #store: ReservationStore;
  readonly #taskSet: TaskSet;
  readonly #unitAttentions: UnitAttentions;
  /** I_T nexuses that have addressed this LU through this node (unit attentions go to them). */
  readonly #nexuses = new Map<string, ItNexus>();
  #queue: Promise<unknown> = Promise.resolve();
  /** The PERSISTENT RESERVE OUT being applied by this node, never aborted by its own change. */
  #issuing: TransportCommand | undefined;

  constructor(taskSet: TaskSet, unitAttentions: UnitAttentions, opts: LuReservationsOptions = {}) {
    this.#taskSet = taskSet;
    this.#unitAttentions = unitAttentions;
    this.#store =
      opts.store ?? new MemoryReservationStore(opts.aptplFile ? { aptplFile: opts.aptplFile } : {});
    this.#store.subscribe((c) => this.#apply(c));
  }

  get state(): ReservationState {
    return this.#store.get().state;
  }

  /** The gate's reservation step: does this command meet RESERVATION CONFLICT? */
  conflicts(nexus: ItNexus, row: CommandShape, cdb: Buffer): boolean {
    if (!this.#nexuses.has(nexus.id)) this.#nexuses.set(nexus.id, nexus);
    const s = this.#store.get().state;
    // Fast path: no reservation and no registration, nothing can conflict.
    if (s.reservation === null && s.spc2 === null && s.registrations.length === 0) return false;
    return reservationConflict(s, nexusIdentity(nexus), conflictRuleFor(row, cdb));
  }

  get capabilities(): PrCapabilities {
    return { persistThroughPowerLoss: this.#store.persistsThroughPowerLoss };
  }

  persistentReserveIn(sa: PrinServiceActionCode): Buffer {
    return persistentReserveIn(this.#store.get().state, sa, this.capabilities);
  }

  async persistentReserveOut(cmd: TransportCommand, req: PrOutRequest): Promise<PrOutcome> {
    const caps = this.capabilities;
    return (await this.#mutate((s) => persistentReserveOut(s, req, caps), cmd)).outcome;
  }

  async reserve(nexus: ItNexus): Promise<PrOutcome> {
    return (await this.#mutate((s) => spc2Reserve(s, nexusIdentity(nexus)))).outcome;
  }

  async release(nexus: ItNexus): Promise<PrOutcome> {
    return (await this.#mutate((s) => spc2Release(s, nexusIdentity(nexus)))).outcome;
  }

  /** LOGICAL UNIT RESET (and target resets): SPC-2 reservations go, persistent ones stay. */
  async logicalUnitReset(): Promise<void> {
    if (this.#store.get().state.spc2 === null) return;
    await this.#mutate((s) => logicalUnitReset(s));
  }

  /** The I_T nexus is gone: its SPC-2 reservation is released; registrations stay. */
  async nexusLost(nexus: ItNexus): Promise<void> {
    this.#nexuses.delete(nexus.id);
    const spc2 = this.#store.get().state.spc2;
    if (spc2 === null || !sameNexus(spc2.holder, nexusIdentity(nexus))) return;
    await this.#mutate((s) => nexusLoss(s, nexusIdentity(nexus)));
  }

  /** Read, compute, compare-and-set; recompute when another change won. One at a time per node. */
  #mutate(compute: (s: ReservationState) => PrResult, cmd?: TransportCommand): Promise<PrResult> {
    const run = this.#queue.then(async () => {
      for (let attempt = 1; ; attempt++) {
        const snap = this.#store.get();
        const result = compute(snap.state);
        if (result.state === snap.state) return result;
        const change: ReservationChange = {
          state: result.state,
          unitAttentions: result.unitAttentions,
          abort: result.abort,
          ...(result.issuer ? { issuer: result.issuer } : {}),
        };
        this.#issuing = cmd;
        try {
          if (await this.#store.compareAndSet(snap.revision, change)) return result;
        } finally {
          this.#issuing = undefined;
        }
        if (attempt >= MAX_ATTEMPTS)
          throw new Error(`reservation state still contended after ${attempt} attempts`);
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Applies a change to this node: unit attentions to the nexuses here, then aborted tasks. */
  async #apply(change: ReservationChange): Promise<void> {
    for (const ua of change.unitAttentions) {
      for (const n of this.#nexuses.values()) {
        const id = nexusIdentity(n);
        if (!covers(ua.nexus, id) || (ua.except && sameNexus(ua.except, id))) continue;
        this.#unitAttentions.establish(n.id, reason(ua.reason));
      }
    }
    if (change.abort.length > 0) await this.#abortTasks(change.abort, change.issuer);
  }

  /**
   * PREEMPT AND ABORT (SPC-4 5.13.11.4.5): the preempted nexuses' tasks are aborted, and the
   * command completes only when they can have no further effect. A task queued behind the
   * issuing command (an ORDERED one, or anything behind an ORDERED one) has not started and
   * never will: it is aborted but not waited for, which would deadlock.
   */
  async #abortTasks(matches: readonly NexusMatch[], issuer: NexusIdentity | undefined): Promise<void> {
    // The command being applied by this node is exempt only from its own change.
    const issuing = this.#issuing;
    const own = issuing && issuer && sameNexus(issuer, nexusIdentity(issuing.nexus)) ? issuing : undefined;
    const waitFor: Task[] = [];
    let afterOwn = false;
    let queuedBehindOwn = false;
    for (const t of this.#taskSet.tasks()) {
      if (t.cmd === own) {
        afterOwn = true;
        queuedBehindOwn = t.cmd.attribute === TaskAttribute.ORDERED;
        continue;
      }
      if (afterOwn && t.cmd.attribute === TaskAttribute.ORDERED) queuedBehindOwn = true;
      const id = nexusIdentity(t.nexus);
      if (!matches.some((m) => covers(m, id))) continue;
      t.aborted = true;
      t.abortedByOther = issuer === undefined || !sameNexus(issuer, id);
      t.cmd.abort();
      if (!queuedBehindOwn || t.cmd.attribute === TaskAttribute.HEAD_OF_QUEUE) waitFor.push(t);
    }
    await Promise.all(waitFor.map((t) => t.done));
  }
}
