import { Etcd3, type IOptions } from 'etcd3';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { CoordinatorEvents, CoordinatorOptions, NodeAddresses } from './coordinator.js';
import { CoordinatorFacade } from './coordinator-facade.js';
import { EtcdAlua } from './etcd-alua.js';
import { EtcdConfig } from './etcd-config.js';
import { EtcdElection } from './etcd-election.js';
import { EtcdIdentity } from './etcd-identity.js';
import { EtcdKv } from './etcd-kv.js';
import { EtcdMembership } from './etcd-membership.js';
import { EtcdModePages } from './etcd-mode-pages.js';
import type { EtcdPartContext } from './etcd-part.js';
import { EtcdReplicaSets } from './etcd-replica-sets.js';
import { EtcdReservations } from './etcd-reservations.js';
import { etcdFaultOptions } from './etcd-retry.js';
import { EtcdSession, type SessionLease } from './etcd-session.js';
import { fencingPolicy } from './fencing.js';
import { KeyLayout } from './keys.js';
import { nodeAddressesSchema } from './records.js';
import { TypedEmitter } from './typed-emitter.js';

export interface EtcdCoordinatorOptions extends CoordinatorOptions {
  /** etcd client URLs, e.g. ['http://127.0.0.1:2379']. */
  readonly endpoints: readonly string[];
  /** Key prefix; default `/tandem/<cluster>/`. */
  readonly prefix?: string;
  /** Cluster name for the default prefix. Default 'default'. */
  readonly cluster?: string;
  readonly credentials?: IOptions['credentials'];
  readonly auth?: IOptions['auth'];
  /** Deadline of every unary etcd call. Default RETRY_POLICY.callTimeoutMs. */
  readonly callTimeoutMs?: number;
}

/**
 * The Coordinator on etcd (npm `etcd3`): one session lease (etcd-session.ts) and one KV layer
 * (etcd-kv.ts) shared by one part per concern — membership, identity, election (etcd-election.ts
 * says why it is not etcd3's Election), ALUA, replica sets, reservations, configuration. This
 * class only builds them and runs start/close; coordinator-facade.ts answers the Coordinator
 * interface through them.
 */
export class EtcdCoordinator extends CoordinatorFacade {
  override readonly kind = 'etcd' as const;
  override readonly nodeName: string;
  readonly keys: KeyLayout;
  readonly #logger: Logger;
  readonly #kv: EtcdKv;
  readonly #session: EtcdSession;
  readonly #membership: EtcdMembership;
  readonly #election: EtcdElection;
  readonly #reservations: EtcdReservations;
  #started = false;

  constructor(opts: EtcdCoordinatorOptions) {
    if (opts.endpoints.length === 0) {
      throw new TandemError('TANDEM_ERR_CLUSTER_INVALID_ARGUMENT', 'no etcd endpoints');
    }
    nodeAddressesSchema.parse(opts.node);
    const node: NodeAddresses = { ...opts.node, portals: [...opts.node.portals] };
    const keys = opts.prefix ? new KeyLayout(opts.prefix) : KeyLayout.forCluster(opts.cluster ?? 'default');
    const logger = opts.logger.child({ component: 'cluster', node: node.name });
    const policy = fencingPolicy(opts.leaseTtlSeconds, opts.fenceMarginMs);
    const client = new Etcd3({
      hosts: [...opts.endpoints],
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...etcdFaultOptions(opts.callTimeoutMs),
    });
    const kv = new EtcdKv(client, logger);
    const ctx: EtcdPartContext = { kv, keys, nodeName: node.name, logger };
    const events = new TypedEmitter<CoordinatorEvents>(logger);
    const session = new EtcdSession(client, policy, logger);
    session.on('state', (e) => events.emit('session', e));
    // The election subscribes to the session's 'fenced' here: terms end before anyone else hears.
    const election = new EtcdElection(ctx, session, events);
    const membership = new EtcdMembership(ctx, node);
    const reservations = new EtcdReservations(ctx, session);
    super({
      events,
      session,
      membership,
      identity: new EtcdIdentity(ctx, node),
      election,
      alua: new EtcdAlua(ctx, election),
      replicaSets: new EtcdReplicaSets(ctx),
      reservations,
      modePages: new EtcdModePages(ctx),
      config: new EtcdConfig(ctx),
    });
    this.nodeName = node.name;
    this.keys = keys;
    this.#logger = logger;
    this.#kv = kv;
    this.#session = session;
    this.#membership = membership;
    this.#election = election;
    this.#reservations = reservations;
    session.on('live', (lease) => this.#onLive(lease));
    logger.info({ prefix: keys.prefix, ...policy }, 'etcd coordinator configured');
  }

  /** The fencing window in use (for logs, metrics and tests). */
  get fencing() {
    return this.#session.policy;
  }

  /** Monotonic send time of the last confirmed keep-alive (for tests and metrics). */
  lastConfirmedKeepAliveSentAt(): number {
    return this.#session.clock.lastConfirmedSentAt();
  }

  override async start(): Promise<void> {
    this.#kv.assertOpen();
    if (this.#started) return;
    this.#started = true;
    this.#session.start();
    for (;;) {
      const lease = await this.#session.waitLive();
      try {
        await this.#register(lease);
        return;
      } catch (err) {
        if (!lease.signal.aborted) throw err; // else: fenced meanwhile, register on the next lease
      }
    }
  }

  override async close(): Promise<void> {
    if (this.#kv.closed) return;
    this.#kv.markClosed();
    await this.#election.closeAll();
    await this.#kv.closeWatches();
    // Revoking the lease deletes the membership and every election key at once.
    await this.#session.close();
    this.#kv.closeClient();
  }

  #register(lease: SessionLease): Promise<void> {
    return this.#membership.register(lease, this.#reservations.announcements(lease.id));
  }

  #onLive(lease: SessionLease): void {
    if (lease.generation === 1) return; // start() registers the first one and reports failure.
    this.#register(lease).catch((err: unknown) => {
      if (!lease.signal.aborted) this.#logger.error({ err }, 'member registration failed');
    });
  }
}
