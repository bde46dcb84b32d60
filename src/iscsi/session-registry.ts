import type { Logger } from '../util/logger.js';
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
  #nextTsih = 1;
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * A login with TSIH ≠ 0 names an existing session (RFC 7143 6.3.1). With MaxConnections=1
   * the only acceptable case is connection reinstatement: same initiator, ISID and CID as the
   * session's live connection, which open-iscsi does when it reconnects after a failure.
   */
  checkJoin(tsih: number, initiatorName: string, isid: Buffer, cid: number): JoinRefusal | undefined {
    const e = this.#byTsih.get(tsih);
    if (!e || e.session.initiatorName !== initiatorName || !e.session.isid.equals(isid)) {
      return 'SESSION_DOES_NOT_EXIST';
    }
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
      if (old) {
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

  #allocateTsih(): number {
    for (let i = 0; i < 0xffff; i++) {
      const t = this.#nextTsih;
      this.#nextTsih = this.#nextTsih >= 0xffff ? 1 : this.#nextTsih + 1;
      if (!this.#byTsih.has(t)) return t;
    }
    throw new Error('no free TSIH');
  }
}
