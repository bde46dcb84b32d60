import type { Logger } from '../util/logger.js';
import { type AuthConfig, ChapExchange } from './chap.js';
import {
  defaultParams,
  type NegotiatedParams,
  negotiate,
  type TargetSettings,
  targetDeclarations,
} from './params.js';
import { BhsFlag } from './pdu/bhs.js';
import type { PortalOptions, TargetDirectory, TargetEntry } from './portal-interface.js';
import { encodeKeyValues, type KeyValues, parseKeyValues, TextFormatError } from './text.js';

/** RFC 7143 11.13.5 login status class/detail. */
export const LoginStatus = {
  SUCCESS: [0x00, 0x00],
  INITIATOR_ERROR: [0x02, 0x00],
  AUTHENTICATION_FAILURE: [0x02, 0x01],
  AUTHORIZATION_FAILURE: [0x02, 0x02],
  NOT_FOUND: [0x02, 0x03],
  TARGET_REMOVED: [0x02, 0x04],
  UNSUPPORTED_VERSION: [0x02, 0x05],
  TOO_MANY_CONNECTIONS: [0x02, 0x06],
  MISSING_PARAMETER: [0x02, 0x07],
  CANT_INCLUDE_IN_SESSION: [0x02, 0x08],
  SESSION_TYPE_NOT_SUPPORTED: [0x02, 0x09],
  SESSION_DOES_NOT_EXIST: [0x02, 0x0a],
  INVALID_DURING_LOGIN: [0x02, 0x0b],
  TARGET_ERROR: [0x03, 0x00],
  SERVICE_UNAVAILABLE: [0x03, 0x01],
  OUT_OF_RESOURCES: [0x03, 0x02],
} as const satisfies Record<string, readonly [number, number]>;
export type LoginStatusName = keyof typeof LoginStatus;

/** Largest login text assembled from continued PDUs. */
const MAX_LOGIN_TEXT = 64 * 1024;

/** Login stages (CSG/NSG values, RFC 7143 11.12.3). */
export const Stage = { SECURITY: 0, OPERATIONAL: 1, FULL_FEATURE: 3 } as const;

export interface LoginRequest {
  transit: boolean;
  cont: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionMin: number;
  isid: Buffer;
  tsih: number;
  itt: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
  data: Buffer;
}

export function decodeLoginRequest(bhs: Buffer, data: Buffer): LoginRequest {
  return {
    transit: (bhs[1]! & BhsFlag.TRANSIT) !== 0,
    cont: (bhs[1]! & BhsFlag.CONTINUE) !== 0,
    csg: (bhs[1]! >> 2) & 3,
    nsg: bhs[1]! & 3,
    versionMax: bhs[2]!,
    versionMin: bhs[3]!,
    isid: Buffer.from(bhs.subarray(8, 14)),
    tsih: bhs.readUInt16BE(14),
    itt: bhs.readUInt32BE(16),
    cid: bhs.readUInt16BE(20),
    cmdSN: bhs.readUInt32BE(24),
    expStatSN: bhs.readUInt32BE(28),
    data,
  };
}

/** What the connection must do with a login request. */
export type LoginStep =
  | { kind: 'respond'; transit: boolean; csg: number; nsg: number; data: Buffer }
  | { kind: 'fail'; status: LoginStatusName; csg: number; why: string }
  | {
      kind: 'complete';
      csg: number;
      data: Buffer;
      params: NegotiatedParams;
      initiatorName: string;
      sessionType: 'Normal' | 'Discovery';
      target: TargetEntry | undefined;
      isid: Buffer;
      tsih: number;
      cmdSN: number;
    };

/**
 * The target side of one connection's login (RFC 7143 6.3): stage transitions, required
 * keys, target lookup and authorization, and key negotiation through params.ts.
 */
export class LoginNegotiation {
  readonly params: NegotiatedParams;
  readonly #opts: PortalOptions;
  readonly #directory: TargetDirectory;
  readonly #log: Logger;
  #stage: number | undefined;
  #first = true;
  #pendingText: Buffer[] = [];
  #pendingBytes = 0;
  readonly #seen = new Set<string>();
  #initiatorName: string | undefined;
  #sessionType: 'Normal' | 'Discovery' = 'Normal';
  #target: TargetEntry | undefined;
  #isid: Buffer | undefined;
  #tsih = 0;
  #cmdSN = 0;
  #authDone = false;
  /** The portal's settings, with AuthMethod narrowed to CHAP once the target requires it. */
  #settings: TargetSettings;
  #auth: AuthConfig | undefined;
  #chap: ChapExchange | undefined;
  /**
   * The ACL refused the initiator, on a target that authenticates: said only once CHAP has
   * succeeded, so that an unauthenticated initiator cannot tell an ACL refusal from a wrong
   * secret (both 0x0201 until then) and so probe which initiator names are allowed.
   */
  #refused: string | undefined;

  constructor(opts: PortalOptions, directory: TargetDirectory, log: Logger) {
    this.#opts = opts;
    this.#settings = opts.settings;
    this.#directory = directory;
    this.#log = log;
    this.params = defaultParams(opts.settings);
  }

  get initiatorName(): string | undefined {
    return this.#initiatorName;
  }

  step(req: LoginRequest): LoginStep {
    const csg = req.csg;
    const fail = (status: LoginStatusName, why: string): LoginStep => ({ kind: 'fail', status, csg, why });
    if (req.versionMin > 0x00) return fail('UNSUPPORTED_VERSION', `version-min ${req.versionMin}`);
    if (csg !== Stage.SECURITY && csg !== Stage.OPERATIONAL) return fail('INITIATOR_ERROR', `CSG ${csg}`);
    if (this.#stage !== undefined && csg < this.#stage)
      return fail('INITIATOR_ERROR', 'login went back a stage');
    if (req.transit && (req.nsg <= csg || req.nsg === 2)) {
      return fail('INITIATOR_ERROR', `invalid stage transition ${csg} -> ${req.nsg}`);
    }
    if (req.transit && req.cont) return fail('INITIATOR_ERROR', 'T and C both set');
    if (this.#isid && (!req.isid.equals(this.#isid) || req.tsih !== this.#tsih)) {
      return fail('INITIATOR_ERROR', 'ISID or TSIH changed during login');
    }
    this.#stage = csg;
    this.#isid ??= req.isid;
    if (this.#first) {
      this.#tsih = req.tsih;
      this.#cmdSN = req.cmdSN;
    }

    // Text split over several PDUs (C bit): acknowledge each part with an empty response.
    this.#pendingText.push(req.data);
    this.#pendingBytes += req.data.length;
    if (this.#pendingBytes > MAX_LOGIN_TEXT) return fail('OUT_OF_RESOURCES', 'login text too long');
    if (req.cont) return { kind: 'respond', transit: false, csg, nsg: 0, data: Buffer.alloc(0) };
    const text = Buffer.concat(this.#pendingText);
    this.#pendingText = [];
    this.#pendingBytes = 0;
    let offered: KeyValues;
    try {
      offered = parseKeyValues(text);
    } catch (err) {
      if (err instanceof TextFormatError) return fail('INITIATOR_ERROR', err.message);
      throw err;
    }

    const response: KeyValues = [];
    if (this.#first) {
      const r = this.#firstRequest(offered);
      if (r) return fail(r.status, r.why);
    }
    const result = negotiate(
      offered,
      this.#settings,
      this.params,
      { stage: csg === Stage.SECURITY ? 'security' : 'operational', sessionType: this.#sessionType },
      this.#seen,
    );
    if (this.#first && this.#sessionType === 'Normal' && this.#target) {
      response.push(['TargetPortalGroupTag', String(this.#target.portalGroupTag)]);
      if (this.#target.alias) response.push(['TargetAlias', this.#target.alias]);
    }
    this.#first = false;
    response.push(...result.response);

    // While a CHAP exchange is under way the target holds the initiator in the security stage.
    let hold = false;
    if (csg === Stage.SECURITY) {
      const auth = result.response.find(([k]) => k === 'AuthMethod');
      if (auth && auth[1] === 'Reject') {
        return fail(
          'AUTHENTICATION_FAILURE',
          `no acceptable AuthMethod in "${offered.find(([k]) => k === 'AuthMethod')?.[1]}"`,
        );
      }
      if (auth) {
        this.#authDone = auth[1] === 'None';
        if (auth[1] === 'CHAP' && this.#auth) this.#chap = new ChapExchange(this.#auth);
      }
      if (this.#chap && !this.#authDone) {
        const c = this.#chap.step(result.declared);
        if (c.kind === 'fail') return fail('AUTHENTICATION_FAILURE', c.why);
        response.push(...c.response);
        if (c.kind === 'done') {
          if (this.#refused) return fail('AUTHORIZATION_FAILURE', this.#refused);
          this.#authDone = true;
          this.#log.debug({ initiator: this.#initiatorName }, 'CHAP authentication succeeded');
        } else hold = true;
      }
      if (req.transit && !hold && !this.#authDone && !this.#settings.authMethods.includes('None')) {
        return fail('AUTHENTICATION_FAILURE', 'authentication did not complete');
      }
    } else if (!this.#authDone && !this.#settings.authMethods.includes('None')) {
      // Skipping the security stage is only allowed when no authentication is required.
      return fail('AUTHENTICATION_FAILURE', 'the target requires authentication');
    }
    const transit = req.transit && !hold;

    if (this.#refused && (this.#authDone || transit)) return fail('AUTHORIZATION_FAILURE', this.#refused);
    if (transit && req.nsg === Stage.FULL_FEATURE) {
      response.push(...targetDeclarations(this.#settings));
      return {
        kind: 'complete',
        csg,
        data: encodeKeyValues(dedupe(response)),
        params: this.params,
        initiatorName: this.#initiatorName!,
        sessionType: this.#sessionType,
        target: this.#target,
        isid: this.#isid,
        tsih: this.#tsih,
        cmdSN: this.#cmdSN,
      };
    }
    return {
      kind: 'respond',
      transit,
      csg,
      nsg: transit ? req.nsg : 0,
      data: encodeKeyValues(response),
    };
  }

  #firstRequest(offered: KeyValues): { status: LoginStatusName; why: string } | undefined {
    const get = (k: string) => offered.find(([key]) => key === k)?.[1];
    const initiatorName = get('InitiatorName');
    if (!initiatorName)
      return { status: 'MISSING_PARAMETER', why: 'no InitiatorName in the first login request' };
    this.#initiatorName = initiatorName;
    const type = get('SessionType') ?? 'Normal';
    if (type !== 'Normal' && type !== 'Discovery') {
      return { status: 'SESSION_TYPE_NOT_SUPPORTED', why: `SessionType=${type}` };
    }
    this.#sessionType = type;
    if (type === 'Normal') {
      const name = get('TargetName');
      if (!name) return { status: 'MISSING_PARAMETER', why: 'no TargetName for a normal session' };
      const target = this.#directory.lookup(name);
      if (!target) return { status: 'NOT_FOUND', why: `no target ${name}` };
      if (!target.admits(initiatorName)) {
        const why = `${initiatorName} is not allowed to log in to ${name}`;
        // Without authentication there is nothing to hide the refusal behind.
        if (!target.auth) return { status: 'AUTHORIZATION_FAILURE', why };
        this.#refused = why;
      }
      this.#target = target;
    }
    this.#auth = type === 'Discovery' ? this.#opts.discoveryAuth : this.#target?.auth;
    if (this.#auth) this.#settings = { ...this.#opts.settings, authMethods: ['CHAP'] };
    this.#log.debug({ initiator: initiatorName, type }, 'login started');
    return undefined;
  }
}

/** A key must appear once in a response; later answers win over declarations. */
function dedupe(kv: KeyValues): KeyValues {
  const seen = new Map<string, string>();
  for (const [k, v] of kv) if (!seen.has(k)) seen.set(k, v);
  return [...seen];
}
