import type { Logger } from '../util/logger.js';
import { decodeLoginRequest, LoginNegotiation, LoginStatus, type LoginStep } from './login.js';
import type { NegotiatedParams } from './params.js';
import type { Pdu } from './pdu/bhs.js';
import * as out from './pdu/target-pdus.js';
import type { PortalOptions, TargetDirectory } from './portal-interface.js';
import type { Session } from './session.js';
import type { SessionOwner, SessionRegistry } from './session-registry.js';
import type { StatusNumbering } from './status-numbering.js';

/** What a login request led to; the connection changes phase on 'complete' and 'failed'. */
export type LoginResult =
  | { readonly kind: 'pending' }
  | { readonly kind: 'failed'; readonly why: string }
  | {
      readonly kind: 'complete';
      readonly session: Session;
      readonly params: NegotiatedParams;
      /** The connection's logger with the session's fields. */
      readonly log: Logger;
    };

const PENDING: LoginResult = { kind: 'pending' };

/**
 * The login phase of one connection on the wire: each Login Request through the negotiation
 * (login.ts), the node's session caps and joins, and the Login Response; on the final step it
 * opens the session in the registry. It sends, it never changes the connection's phase.
 */
export class LoginDriver {
  readonly #negotiation: LoginNegotiation;
  readonly #sessions: SessionRegistry;
  readonly #opts: PortalOptions;
  readonly #numbering: StatusNumbering;
  readonly #send: (hdr: Buffer, data?: Buffer) => void;
  readonly #log: Logger;
  #cid = 0;

  constructor(
    opts: PortalOptions,
    directory: TargetDirectory,
    sessions: SessionRegistry,
    numbering: StatusNumbering,
    send: (hdr: Buffer, data?: Buffer) => void,
    log: Logger,
  ) {
    this.#negotiation = new LoginNegotiation(opts, directory, log);
    this.#sessions = sessions;
    this.#opts = opts;
    this.#numbering = numbering;
    this.#send = send;
    this.#log = log;
  }

  /** The CID of the latest login request. */
  get cid(): number {
    return this.#cid;
  }

  onLogin(pdu: Pdu, owner: SessionOwner): LoginResult {
    const req = decodeLoginRequest(pdu.bhs, pdu.data);
    this.#numbering.startAt(req.expStatSN);
    this.#cid = req.cid;
    let step: LoginStep = this.#negotiation.step(req);
    if (
      step.kind === 'complete' &&
      step.tsih === 0 &&
      !this.#sessions.checkSessionCap(step.initiatorName, step.isid, step.target)
    ) {
      step = { kind: 'fail', status: 'OUT_OF_RESOURCES', csg: step.csg, why: 'sessions per initiator cap' };
    }
    if (step.kind === 'complete' && step.tsih !== 0) {
      const refusal = this.#sessions.checkJoin(
        step.tsih,
        step.initiatorName,
        step.isid,
        req.cid,
        step.target,
      );
      if (refusal)
        step = { kind: 'fail', status: refusal, csg: step.csg, why: `TSIH ${step.tsih}: ${refusal}` };
    }
    switch (step.kind) {
      case 'fail': {
        const [cls, detail] = LoginStatus[step.status];
        this.#log.warn(
          { status: step.status, why: step.why, initiator: this.#negotiation.initiatorName },
          'login failed',
        );
        this.#send(
          out.loginResponse(
            {
              transit: false,
              continue: false,
              csg: step.csg,
              nsg: 0,
              isid: req.isid,
              tsih: 0,
              itt: req.itt,
              statusClass: cls,
              statusDetail: detail,
            },
            this.#numbering.login(undefined, req.cmdSN),
          ),
        );
        return { kind: 'failed', why: step.why };
      }
      case 'respond':
        this.#send(
          out.loginResponse(
            {
              transit: step.transit,
              continue: false,
              csg: step.csg,
              nsg: step.nsg,
              isid: req.isid,
              tsih: 0,
              itt: req.itt,
              statusClass: 0,
              statusDetail: 0,
            },
            this.#numbering.login(undefined, req.cmdSN),
          ),
          step.data,
        );
        return PENDING;
      case 'complete': {
        const session = this.#sessions.open(owner, {
          isid: step.isid,
          tsih: step.tsih,
          initiatorName: step.initiatorName,
          type: step.sessionType,
          target: step.target,
          params: step.params,
          cmdSN: step.cmdSN,
          window: this.#opts.commandWindow,
        });
        const log = this.#log.child({
          initiator: step.initiatorName,
          isid: step.isid.toString('hex'),
          tsih: session.tsih,
          ...(step.target ? { target: step.target.name } : {}),
        });
        this.#send(
          out.loginResponse(
            {
              transit: true,
              continue: false,
              csg: step.csg,
              nsg: 3,
              isid: step.isid,
              tsih: session.tsih,
              itt: req.itt,
              statusClass: 0,
              statusDetail: 0,
            },
            this.#numbering.login(session, req.cmdSN),
          ),
          step.data,
        );
        log.info(
          {
            type: step.sessionType,
            headerDigest: step.params.headerDigest,
            dataDigest: step.params.dataDigest,
            immediateData: step.params.immediateData,
            initialR2T: step.params.initialR2T,
            maxBurst: step.params.maxBurstLength,
            firstBurst: step.params.firstBurstLength,
            mrdsl: step.params.initiatorMaxRecvDataSegmentLength,
          },
          'login complete',
        );
        return { kind: 'complete', session, params: step.params, log };
      }
    }
  }
}
