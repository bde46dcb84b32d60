import { randomInt } from 'node:crypto';
import type { Logger } from '../util/logger.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { DEFAULT_ISCSI_LIMITS, type IscsiLimits, type RefusalKind } from './limits.js';
import { MemoryBudget } from './memory-budget.js';
import type { NegotiatedParams } from './params.js';
import type { TargetEntry } from './portal-interface.js';
import { Session, sessionKey } from './session.js';

/** What a session needs from its connection when it is reinstated. */
export interface SessionOwner {
  /** The connection id (CID) the initiator gave this session's connection. */
  readonly cid: number;
  close(reason: string): void;
}

/** Why a login that names an existing session (TSIH ≠ 0) cannot proceed. */
export type JoinRefusal = 'SESSION_DOES_NOT_EXIST' | 'TOO_MANY_CONNECTIONS';

/**
 * All sessions of a node, by TSIH and by (initiator, ISID, target) for reinstatement
 * (RFC 7143 6.3.5: a leading login with an existing ISID and TSIH 0 replaces the old session).
 */
export class SessionRegistry {
  readonly #byTsih = new Map<number, { session: Session; owner: SessionOwner }>();
  readonly #byKey = new Map<string, number>();
  readonly #log: Logger;
  /** The node's connection caps, shared by all its portals. */
  readonly connections: ConnectionLimiter;
  /** The node's memory budget for what initiators make it hold, shared by all connections. */
  readonly memory: MemoryBudget;
  readonly limits: IscsiLimits;
  /** Refusals counted outside the connection limiter and the memory budget. */
  readonly #refused = { 'sessions-per-initiator': 0, 'task-set-full': 0, 'immediate-command-reject': 0 };

  constructor(log: Logger, limits: Partial<IscsiLimits> = {}) {
    this.#log = log;
    this.limits = { ...DEFAULT_ISCSI_LIMITS, ...limits };
    this.connections = new ConnectionLimiter(this.limits);
    this.memory = new MemoryBudget({
      connection: this.limits.connectionBudget,
      node: this.limits.nodeBudget,
    });
  }

  /** Counts a refusal the connection decided (TASK SET FULL, Reject 0x06). */
  refused(kind: 'task-set-full' | 'immediate-command-reject'): void {
    this.#refused[kind]++;
  }

  /** Every refusal so far, by kind (the metrics read it at scrape time). */
  refusals(): Record<RefusalKind, number> {
    const c = this.connections.refusals;
    const m = this.memory.refusals;
    return {
      'connections-per-source': c['per-source'],
      'connections-total': c.total,
      'connections-in-login': c['in-login'],
      ...this.#refused,
      'memory-connection': m.connection,
      'memory-node': m.node,
    };
  }

  /**
   * Whether a new session of `initiatorName` may open (a reinstatement of an existing one, same
   * key, may always): past the cap the login fails with OUT OF RESOURCES (RFC 7143 11.13.5).
   */
  checkSessionCap(initiatorName: string, isid: Buffer, target: TargetEntry | undefined): boolean {
    const key = sessionKey(initiatorName, isid, target);
    if (this.#byKey.has(key)) return true;
    let n = 0;
    for (const e of this.#byTsih.values()) if (e.session.initiatorName === initiatorName) n++;
    if (n < this.limits.sessionsPerInitiator) return true;
    this.#refused['sessions-per-initiator']++;
    return false;
  }

  /**
   * A login with TSIH ≠ 0 names an existing session (RFC 7143 6.3.1). With MaxConnections=1
   * the only acceptable case is connection reinstatement: same initiator, ISID and CID as the
   * session's live connection, which open-iscsi does when it reconnects after a failure.
   * The session must also belong to the target and portal group this login authenticated to
   * (RFC 7143 4.4.2: a session is between one initiator and one target portal group): else a
   * login to an open target could close, by guessing its TSIH, a session on a protected one.
   */
  checkJoin(
    tsih: number,
    initiatorName: string,
    isid: Buffer,
    cid: number,
    target: TargetEntry | undefined,
  ): JoinRefusal | undefined {
    const e = this.#byTsih.get(tsih);
    if (!e || e.session.key !== sessionKey(initiatorName, isid, target)) return 'SESSION_DOES_NOT_EXIST';
    if (e.owner.cid !== cid) return 'TOO_MANY_CONNECTIONS';
    return undefined;
  }

  open(
    owner: SessionOwner,
    opts: {
      isid: Buffer;
      tsih: number;
      initiatorName: string;
      type: 'Normal' | 'Discovery';
      target: TargetEntry | undefined;
      params: NegotiatedParams;
      cmdSN: number;
      window: number;
    },
  ): Session {
    const key = sessionKey(opts.initiatorName, opts.isid, opts.target);
    const existing = opts.tsih !== 0 ? opts.tsih : this.#byKey.get(key);
    if (existing !== undefined) {
      const old = this.#byTsih.get(existing);
      // checkJoin refused a TSIH of another initiator, ISID, target or portal group already.
      if (old && old.session.key === key) {
        this.#log.info(
          { key, tsih: existing },
          opts.tsih !== 0
            ? 'connection reinstatement: closing the old connection'
            : 'session reinstatement: closing the old session',
        );
        this.remove(old.session);
        old.session.closed = true;
        if (old.session.nexus && old.session.target) {
          old.session.target.engine.nexusLost(old.session.nexus, 'reinstatement');
        }
        old.owner.close('session reinstated by a new login');
      }
    }
    // Connection reinstatement keeps the session's TSIH; a new session gets a fresh one.
    const tsih = opts.tsih !== 0 && !this.#byTsih.has(opts.tsih) ? opts.tsih : this.#allocateTsih();
    const session = new Session({
      tsih,
      isid: opts.isid,
      initiatorName: opts.initiatorName,
      type: opts.type,
      target: opts.target,
      params: opts.params,
      cmdSN: opts.cmdSN,
      window: opts.window,
    });
    this.#byTsih.set(session.tsih, { session, owner });
    this.#byKey.set(key, session.tsih);
    return session;
  }

  remove(session: Session): void {
    const cur = this.#byTsih.get(session.tsih);
    if (cur?.session !== session) return;
    this.#byTsih.delete(session.tsih);
    if (this.#byKey.get(session.key) === session.tsih) this.#byKey.delete(session.key);
  }

  sessions(): Session[] {
    return [...this.#byTsih.values()].map((e) => e.session);
  }

  /**
   * A random free TSIH (1..0xffff; 0 is reserved, RFC 7143 11.12.6): a sequential one lets an
   * attacker name other initiators' sessions without trying more than a handful.
   */
  #allocateTsih(): number {
    if (this.#byTsih.size >= 0xffff) throw new Error('no free TSIH');
    for (;;) {
      const t = randomInt(1, 0x10000);
      if (!this.#byTsih.has(t)) return t;
    }
  }
}
