// The ReservationStore contract as LuReservations relies on it: compare-and-set on the revision,
// listeners run before a change counts as applied, a lost race is recomputed on the new state.
import { describe, expect, it } from 'vitest';
import { LuReservations } from '../../../../src/scsi/pr/lu-reservations.js';
import { MemoryReservationStore } from '../../../../src/scsi/pr/memory-store.js';
import type {
  ReservationChange,
  ReservationSnapshot,
  ReservationStore,
} from '../../../../src/scsi/pr/reservation-store-interface.js';
import { EMPTY_STATE, type ReservationState } from '../../../../src/scsi/pr/state.js';
import { TaskSet } from '../../../../src/scsi/task-set.js';
import { UnitAttentions } from '../../../../src/scsi/unit-attention.js';
import { Loopback, makeNexus } from '../../../helpers/loopback.js';
import { Status } from '../../../helpers/wire.js';
import { A, B, key, ok, req, SA } from './fixtures.js';

const change = (state: ReservationState): ReservationChange => ({ state, unitAttentions: [], abort: [] });

describe('MemoryReservationStore', () => {
  it('compare-and-set succeeds at the current revision only', async () => {
    const store = new MemoryReservationStore();
    const { revision } = store.get();
    const next = ok(EMPTY_STATE, req(SA.REGISTER, A, { serviceActionKey: key(1) }));
    expect(await store.compareAndSet(revision, change(next))).toBe(true);
    expect(store.get()).toEqual({ state: next, revision: revision + 1 });
    expect(await store.compareAndSet(revision, change(EMPTY_STATE))).toBe(false);
    expect(store.get().state).toBe(next);
  });

  it('awaits its listeners before the change counts as applied', async () => {
    const store = new MemoryReservationStore();
    const seen: string[] = [];
    store.subscribe(async () => {
      await new Promise((r) => setTimeout(r, 10));
      seen.push('listener');
    });
    await store.compareAndSet(store.get().revision, change(EMPTY_STATE));
    seen.push('resolved');
    expect(seen).toEqual(['listener', 'resolved']);
  });

  it('has no PTPL capability without a file', () => {
    expect(new MemoryReservationStore().persistsThroughPowerLoss).toBe(false);
    expect(new MemoryReservationStore({ aptplFile: '/nonexistent/x.json' }).persistsThroughPowerLoss).toBe(
      true,
    );
  });
});

/** A store where another node registers B just before our first compare-and-set. */
class RacingStore implements ReservationStore {
  readonly persistsThroughPowerLoss = true;
  readonly inner = new MemoryReservationStore();
  attempts = 0;
  get(): ReservationSnapshot {
    return this.inner.get();
  }
  async compareAndSet(revision: number, c: ReservationChange): Promise<boolean> {
    if (this.attempts++ === 0) {
      const other = ok(this.inner.get().state, req(SA.REGISTER, B, { serviceActionKey: key(0xb) }));
      await this.inner.compareAndSet(this.inner.get().revision, change(other));
    }
    return this.inner.compareAndSet(revision, c);
  }
  subscribe(l: (c: ReservationChange) => void | Promise<void>): () => void {
    return this.inner.subscribe(l);
  }
}

describe('LuReservations over a contended store', () => {
  it('recomputes on the state that won and keeps both changes', async () => {
    const store = new RacingStore();
    const r = new LuReservations(new TaskSet(), new UnitAttentions(), { store });
    const nexusA = makeNexus(A.initiator, A.isid);
    const cmd = new Loopback().command({ cdb: [0x5f], nexus: nexusA });
    const out = await r.persistentReserveOut(cmd, req(SA.REGISTER, A, { serviceActionKey: key(0xa) }));
    expect(out.status).toBe(Status.GOOD);
    expect(store.attempts).toBe(2);
    expect(r.state.registrations.map((x) => x.key)).toEqual([key(0xb), key(0xa)]);
    expect(r.state.generation).toBe(2);
  });
});
