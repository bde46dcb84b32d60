import { StateMachine } from '../util/state-machine.js';
import type {
  CoordinatorEvents,
  CoordinatorOptions,
  Membership,
  NodeAddresses,
  SessionState,
} from './coordinator.js';
import { CoordinatorFacade } from './coordinator-facade.js';
import { EmbeddedAlua } from './embedded-alua.js';
import { type BootstrapEntries, EmbeddedConfig } from './embedded-config.js';
import { EmbeddedElection } from './embedded-election.js';
import { EmbeddedIdentity } from './embedded-identity.js';
import { EmbeddedModePages } from './embedded-mode-pages.js';
import { EmbeddedReplicaSets } from './embedded-replica-sets.js';
import { EmbeddedReservations } from './embedded-reservations.js';
import { EmbeddedStore } from './embedded-store.js';
import { nodeAddressesSchema } from './records.js';
import { TypedEmitter } from './typed-emitter.js';

export { EMBEDDED_EPOCH } from './embedded-store.js';

export interface EmbeddedCoordinatorOptions extends CoordinatorOptions {
  /**
   * Where the desired configuration persists (JSON, replaced durably on every change). Absent:
   * in memory only. A node restarted on the same file serves what it served before.
   */
  readonly configFile?: string;
  /** The first start's configuration (the node file's targets and LUNs): used only while `configFile` does not exist yet. */
  readonly bootstrap?: BootstrapEntries;
}

/**
 * The single-node, in-process Coordinator (DESIGN.md "Embedded mode"): no etcd, no lease. The
 * node is leader of every volume it campaigns for, at epoch 1, and is never fenced. One shared
 * store (embedded-store.ts: revisions, watch delivery) under one part per concern, as on etcd —
 * identity, election, ALUA, replica sets, reservations, mode parameters, configuration. Stores
 * live in memory, except the configuration and the mode parameters (files in the data directory);
 * identity is deterministic instead (embedded-identity.ts). Revisions count writes from 1, like
 * etcd's; watches deliver asynchronously (after the writer has its answer), in order, as etcd
 * watches do, so code written against one behaves the same on the other.
 */
export class EmbeddedCoordinator extends CoordinatorFacade {
  override readonly kind = 'embedded' as const;
  override readonly nodeName: string;
  readonly #session: StateMachine<SessionState>;
  readonly #store: EmbeddedStore;
  readonly #election: EmbeddedElection;
  readonly #modePages: EmbeddedModePages;
  readonly #config: EmbeddedConfig;

  constructor(opts: EmbeddedCoordinatorOptions) {
    nodeAddressesSchema.parse(opts.node);
    const node: NodeAddresses = { ...opts.node, portals: [...opts.node.portals] };
    const logger = opts.logger.child({ component: 'cluster', node: node.name, coordinator: 'embedded' });
    const events = new TypedEmitter<CoordinatorEvents>(logger);
    const session = new StateMachine<SessionState>('session', 'idle', logger, (from, to) =>
      events.emit('session', { from, to }),
    );
    const store = new EmbeddedStore(node.name, logger, session);
    const election = new EmbeddedElection(store, events);
    const modePages = new EmbeddedModePages(store, opts.configFile);
    const config = new EmbeddedConfig(store, opts.configFile, opts.bootstrap, modePages);
    super({
      events,
      session,
      membership: embeddedMembership(node, session),
      identity: new EmbeddedIdentity(store, node),
      election,
      alua: new EmbeddedAlua(store, election),
      replicaSets: new EmbeddedReplicaSets(store, election),
      reservations: new EmbeddedReservations(store),
      modePages,
      config,
    });
    this.nodeName = node.name;
    this.#session = session;
    this.#store = store;
    this.#election = election;
    this.#modePages = modePages;
    this.#config = config;
  }

  override async start(): Promise<void> {
    this.#store.assertOpen();
    this.#session.transition(['idle'], 'connecting');
    await this.#config.load();
    await this.#modePages.load();
    this.#session.transition(['connecting'], 'live');
  }

  /** Saves the configuration if it never was (the node started on its bootstrap). */
  persist(): Promise<void> {
    return this.#config.persist();
  }

  override async close(): Promise<void> {
    if (this.#session.state === 'closed') return;
    await this.#modePages.saved.catch(() => undefined);
    this.#election.closeAll();
    this.#store.clearListeners();
    this.#session.transition(['idle', 'connecting', 'live', 'fenced'], 'closed');
  }
}

/** Membership of one node: the node itself, while its session is live. */
function embeddedMembership(node: NodeAddresses, session: StateMachine<SessionState>): Membership {
  const members = async (): Promise<NodeAddresses[]> => (session.state === 'live' ? [node] : []);
  return {
    members,
    watchMembers: async (listener) => {
      listener(await members());
      return { close: async () => undefined };
    },
  };
}
