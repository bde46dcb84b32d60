import { StateMachine } from '../util/state-machine.js';
import type { CoordinatorEvents, Election, ElectionRole, LeaderRecord, Subscription } from './coordinator.js';
import { EMBEDDED_EPOCH, type EmbeddedStore } from './embedded-store.js';
import type { TypedEmitter } from './typed-emitter.js';

/** The election of one node: it wins every volume it campaigns for, at epoch 1, and is never fenced. */
export class EmbeddedElection implements Election {
  readonly #store: EmbeddedStore;
  readonly #events: TypedEmitter<CoordinatorEvents>;
  readonly #roles = new Map<string, StateMachine<ElectionRole>>();
  readonly #leaderListeners: Set<{ volume: string; fn: (l: LeaderRecord | undefined) => void }>;

  constructor(store: EmbeddedStore, events: TypedEmitter<CoordinatorEvents>) {
    this.#store = store;
    this.#events = events;
    this.#leaderListeners = store.listeners();
  }

  campaign(volume: string): void {
    this.#store.assertOpen();
    const sm = this.#role(volume);
    if (!sm.transition(['idle'], 'candidate')) return;
    sm.transition(['candidate'], 'leader', { epoch: EMBEDDED_EPOCH });
    queueMicrotask(() => {
      if (sm.state !== 'leader') return;
      this.#events.emit('leadershipAcquired', { volume, epoch: EMBEDDED_EPOCH });
      this.#notifyLeader(volume);
    });
  }

  async resign(volume: string): Promise<void> {
    const sm = this.#roles.get(volume);
    if (!sm) return;
    if (sm.transition(['leader'], 'idle', { epoch: EMBEDDED_EPOCH, reason: 'resigned' })) {
      this.#events.emit('leadershipLost', { volume, epoch: EMBEDDED_EPOCH, reason: 'resigned' });
      this.#notifyLeader(volume);
    }
    sm.transition(['candidate', 'fenced'], 'idle');
  }

  /** Ends every term (leadershipLost 'closed') as the coordinator closes. */
  closeAll(): void {
    for (const [volume, sm] of this.#roles) {
      if (sm.transition(['leader'], 'closed', { epoch: EMBEDDED_EPOCH, reason: 'closed' })) {
        this.#events.emit('leadershipLost', { volume, epoch: EMBEDDED_EPOCH, reason: 'closed' });
      }
      sm.transition(['idle', 'candidate', 'fenced'], 'closed');
    }
  }

  role(volume: string): ElectionRole {
    if (this.#store.closed) return 'closed';
    return this.#roles.get(volume)?.state ?? 'idle';
  }

  epoch(volume: string): number | undefined {
    return this.role(volume) === 'leader' ? EMBEDDED_EPOCH : undefined;
  }

  canServeWrites(volume: string): boolean {
    return this.role(volume) === 'leader';
  }

  async leader(volume: string): Promise<LeaderRecord | undefined> {
    return this.#leaderRecord(volume);
  }

  async watchLeader(
    volume: string,
    listener: (leader: LeaderRecord | undefined) => void,
  ): Promise<Subscription> {
    const entry = { volume, fn: listener };
    listener(this.#leaderRecord(volume));
    this.#leaderListeners.add(entry);
    return { close: async () => void this.#leaderListeners.delete(entry) };
  }

  #leaderRecord(volume: string): LeaderRecord | undefined {
    return this.role(volume) === 'leader'
      ? { volume, node: this.#store.nodeName, epoch: EMBEDDED_EPOCH }
      : undefined;
  }

  #notifyLeader(volume: string): void {
    const record = this.#leaderRecord(volume);
    for (const l of this.#leaderListeners) if (l.volume === volume) l.fn(record);
  }

  #role(volume: string): StateMachine<ElectionRole> {
    let sm = this.#roles.get(volume);
    if (!sm) {
      sm = new StateMachine<ElectionRole>('election', 'idle', this.#store.logger.child({ volume }));
      this.#roles.set(volume, sm);
    }
    return sm;
  }
}
