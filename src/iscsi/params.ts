import type { KeyValues } from './text.js';

/**
 * Login and text key negotiation (RFC 7143 6 and 13) as one declarative table and one
 * generic engine. Each row says how a key's result is computed from the initiator's offer and
 * the target's setting.
 */
type KeyKind =
  | { kind: 'list'; supported: (t: TargetSettings) => string[] }
  | { kind: 'and' | 'or'; target: (t: TargetSettings) => boolean }
  | { kind: 'min' | 'max'; min: number; max: number; target: (t: TargetSettings) => number }
  | { kind: 'declarative' }
  | { kind: 'irrelevant' };

interface KeyDef {
  readonly name: string;
  readonly spec: KeyKind;
  /** Only in the security negotiation stage (AuthMethod, CHAP_*). */
  readonly securityOnly?: boolean;
  /** Only at login (leading-connection keys cannot change in full feature phase). */
  readonly loginOnly?: boolean;
  /** Normal sessions only (irrelevant for discovery). */
  readonly normalOnly?: boolean;
}

/** The target's side of every negotiable key. */
export interface TargetSettings {
  maxRecvDataSegmentLength: number;
  maxBurstLength: number;
  firstBurstLength: number;
  initialR2T: boolean;
  immediateData: boolean;
  maxOutstandingR2T: number;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  digests: string[]; // preference is the initiator's order among these
  authMethods: string[];
}

export const DEFAULT_TARGET_SETTINGS: TargetSettings = {
  maxRecvDataSegmentLength: 262144,
  maxBurstLength: 8 << 20,
  firstBurstLength: 262144,
  initialR2T: false,
  immediateData: true,
  maxOutstandingR2T: 16,
  defaultTime2Wait: 2,
  defaultTime2Retain: 20,
  digests: ['CRC32C', 'None'],
  authMethods: ['None'],
};

const MAX_DSL = 16777215;

const KEYS: readonly KeyDef[] = [
  { name: 'AuthMethod', spec: { kind: 'list', supported: (t) => t.authMethods }, securityOnly: true },
  { name: 'HeaderDigest', spec: { kind: 'list', supported: (t) => t.digests }, loginOnly: true },
  { name: 'DataDigest', spec: { kind: 'list', supported: (t) => t.digests }, loginOnly: true },
  { name: 'MaxConnections', spec: { kind: 'min', min: 1, max: 65535, target: () => 1 }, loginOnly: true },
  {
    name: 'InitialR2T',
    spec: { kind: 'or', target: (t) => t.initialR2T },
    loginOnly: true,
    normalOnly: true,
  },
  {
    name: 'ImmediateData',
    spec: { kind: 'and', target: (t) => t.immediateData },
    loginOnly: true,
    normalOnly: true,
  },
  { name: 'MaxRecvDataSegmentLength', spec: { kind: 'declarative' } },
  {
    name: 'MaxBurstLength',
    spec: { kind: 'min', min: 512, max: MAX_DSL, target: (t) => t.maxBurstLength },
    loginOnly: true,
    normalOnly: true,
  },
  {
    name: 'FirstBurstLength',
    spec: { kind: 'min', min: 512, max: MAX_DSL, target: (t) => t.firstBurstLength },
    loginOnly: true,
    normalOnly: true,
  },
  {
    name: 'DefaultTime2Wait',
    spec: { kind: 'max', min: 0, max: 3600, target: (t) => t.defaultTime2Wait },
    loginOnly: true,
  },
  {
    name: 'DefaultTime2Retain',
    spec: { kind: 'min', min: 0, max: 3600, target: (t) => t.defaultTime2Retain },
    loginOnly: true,
  },
  {
    name: 'MaxOutstandingR2T',
    spec: { kind: 'min', min: 1, max: 65535, target: (t) => t.maxOutstandingR2T },
    loginOnly: true,
    normalOnly: true,
  },
  { name: 'DataPDUInOrder', spec: { kind: 'or', target: () => true }, loginOnly: true, normalOnly: true },
  {
    name: 'DataSequenceInOrder',
    spec: { kind: 'or', target: () => true },
    loginOnly: true,
    normalOnly: true,
  },
  // ERL 0 only (DESIGN: a failed connection fails the session; the initiator recovers).
  { name: 'ErrorRecoveryLevel', spec: { kind: 'min', min: 0, max: 2, target: () => 0 }, loginOnly: true },
  // Markers were removed by RFC 7143 but older initiators still offer them (RFC 3720 A.3.2).
  { name: 'IFMarker', spec: { kind: 'and', target: () => false }, loginOnly: true },
  { name: 'OFMarker', spec: { kind: 'and', target: () => false }, loginOnly: true },
  { name: 'IFMarkInt', spec: { kind: 'irrelevant' }, loginOnly: true },
  { name: 'OFMarkInt', spec: { kind: 'irrelevant' }, loginOnly: true },
  // RFC 7144: we implement RFC 7143 (level 1) and no iSER.
  { name: 'iSCSIProtocolLevel', spec: { kind: 'min', min: 0, max: 31, target: () => 1 }, loginOnly: true },
  { name: 'RDMAExtensions', spec: { kind: 'and', target: () => false }, loginOnly: true },
  { name: 'InitiatorName', spec: { kind: 'declarative' }, loginOnly: true },
  { name: 'InitiatorAlias', spec: { kind: 'declarative' }, loginOnly: true },
  { name: 'TargetName', spec: { kind: 'declarative' }, loginOnly: true },
  { name: 'SessionType', spec: { kind: 'declarative' }, loginOnly: true },
];

const KEY_BY_NAME = new Map(KEYS.map((k) => [k.name, k]));

/** What the session runs with after login (RFC 7143 13; defaults where not negotiated). */
export interface NegotiatedParams {
  headerDigest: boolean;
  dataDigest: boolean;
  /** The initiator's receive limit: our Data-In / text PDUs never carry more. */
  initiatorMaxRecvDataSegmentLength: number;
  /** Our receive limit: larger data segments from the initiator are a protocol error. */
  targetMaxRecvDataSegmentLength: number;
  maxBurstLength: number;
  firstBurstLength: number;
  initialR2T: boolean;
  immediateData: boolean;
  maxOutstandingR2T: number;
  dataPDUInOrder: boolean;
  dataSequenceInOrder: boolean;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  errorRecoveryLevel: number;
  maxConnections: number;
}

export function defaultParams(t: TargetSettings): NegotiatedParams {
  return {
    headerDigest: false,
    dataDigest: false,
    initiatorMaxRecvDataSegmentLength: 8192,
    targetMaxRecvDataSegmentLength: t.maxRecvDataSegmentLength,
    maxBurstLength: Math.min(262144, t.maxBurstLength),
    firstBurstLength: Math.min(65536, t.firstBurstLength),
    initialR2T: true,
    immediateData: t.immediateData,
    maxOutstandingR2T: 1,
    dataPDUInOrder: true,
    dataSequenceInOrder: true,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
    errorRecoveryLevel: 0,
    maxConnections: 1,
  };
}

export interface NegotiationContext {
  stage: 'security' | 'operational' | 'full-feature';
  sessionType: 'Normal' | 'Discovery';
}

export interface NegotiationResult {
  response: KeyValues;
  /** Values the initiator sent for declarative keys (InitiatorName, TargetName, ...). */
  declared: Map<string, string>;
}

/**
 * Answers one batch of offered keys and updates `params`. `seen` holds keys negotiated
 * earlier in this login: offering one twice is answered with Reject (RFC 7143 6.2).
 */
export function negotiate(
  offered: KeyValues,
  target: TargetSettings,
  params: NegotiatedParams,
  ctx: NegotiationContext,
  seen: Set<string>,
): NegotiationResult {
  const response: KeyValues = [];
  const declared = new Map<string, string>();
  for (const [key, value] of offered) {
    const def = KEY_BY_NAME.get(key);
    if (key.startsWith('CHAP_')) {
      declared.set(key, value);
      continue;
    }
    if (!def) {
      // X-vendor keys and anything else we do not know (RFC 7143 6.2).
      response.push([key, 'NotUnderstood']);
      continue;
    }
    if (def.spec.kind === 'declarative') {
      declared.set(key, value);
      if (key === 'MaxRecvDataSegmentLength') {
        const n = parseNumber(value);
        if (n === undefined || n < 512 || n > MAX_DSL) response.push([key, 'Reject']);
        else params.initiatorMaxRecvDataSegmentLength = n;
      }
      continue;
    }
    if (value === 'NotUnderstood' || value === 'Irrelevant' || value === 'Reject') continue;
    if (seen.has(key) && ctx.stage !== 'full-feature') {
      response.push([key, 'Reject']);
      continue;
    }
    seen.add(key);
    if (ctx.stage === 'full-feature' && def.loginOnly) {
      response.push([key, 'Reject']);
      continue;
    }
    if (def.securityOnly && ctx.stage !== 'security') {
      response.push([key, 'Reject']);
      continue;
    }
    if (def.normalOnly && ctx.sessionType === 'Discovery') {
      response.push([key, 'Irrelevant']);
      continue;
    }
    const answer = answerKey(def, value, target);
    response.push([key, answer]);
    if (answer !== 'Reject' && answer !== 'Irrelevant') apply(params, key, answer);
  }
  // RFC 7143 13.14: FirstBurstLength must not exceed MaxBurstLength, whichever side lowered it.
  if (params.firstBurstLength > params.maxBurstLength) {
    params.firstBurstLength = params.maxBurstLength;
    const fb = response.find(([k]) => k === 'FirstBurstLength');
    if (fb) fb[1] = String(params.firstBurstLength);
  }
  return { response, declared };
}

function answerKey(def: KeyDef, value: string, t: TargetSettings): string {
  const spec = def.spec;
  switch (spec.kind) {
    case 'list': {
      const ours = spec.supported(t);
      const pick = value.split(',').find((v) => ours.includes(v));
      return pick ?? 'Reject';
    }
    case 'and':
    case 'or': {
      if (value !== 'Yes' && value !== 'No') return 'Reject';
      const theirs = value === 'Yes';
      const ours = spec.target(t);
      return (spec.kind === 'and' ? theirs && ours : theirs || ours) ? 'Yes' : 'No';
    }
    case 'min':
    case 'max': {
      const n = parseNumber(value);
      if (n === undefined || n < spec.min || n > spec.max) return 'Reject';
      const ours = spec.target(t);
      return String(spec.kind === 'min' ? Math.min(n, ours) : Math.max(n, ours));
    }
    case 'irrelevant':
      return 'Irrelevant';
    case 'declarative':
      return value;
  }
}

function apply(p: NegotiatedParams, key: string, v: string): void {
  const yes = v === 'Yes';
  switch (key) {
    case 'HeaderDigest':
      p.headerDigest = v === 'CRC32C';
      break;
    case 'DataDigest':
      p.dataDigest = v === 'CRC32C';
      break;
    case 'MaxConnections':
      p.maxConnections = Number(v);
      break;
    case 'InitialR2T':
      p.initialR2T = yes;
      break;
    case 'ImmediateData':
      p.immediateData = yes;
      break;
    case 'MaxBurstLength':
      p.maxBurstLength = Number(v);
      break;
    case 'FirstBurstLength':
      p.firstBurstLength = Number(v);
      break;
    case 'DefaultTime2Wait':
      p.defaultTime2Wait = Number(v);
      break;
    case 'DefaultTime2Retain':
      p.defaultTime2Retain = Number(v);
      break;
    case 'MaxOutstandingR2T':
      p.maxOutstandingR2T = Number(v);
      break;
    case 'DataPDUInOrder':
      p.dataPDUInOrder = yes;
      break;
    case 'DataSequenceInOrder':
      p.dataSequenceInOrder = yes;
      break;
    case 'ErrorRecoveryLevel':
      p.errorRecoveryLevel = Number(v);
      break;
    default:
      break;
  }
}

/** RFC 7143 5.1: decimal or 0x-hex numbers. */
function parseNumber(v: string): number | undefined {
  if (/^\d{1,10}$/.test(v)) return Number(v);
  if (/^0[xX][0-9a-fA-F]{1,8}$/.test(v)) return Number.parseInt(v.slice(2), 16);
  return undefined;
}

/**
 * Keys the target declares on its own in the last operational response: the initiator must
 * know our receive limit to size Data-Out and immediate data. (TargetPortalGroupTag and
 * TargetAlias go in the first response, login.ts.)
 */
export function targetDeclarations(t: TargetSettings): KeyValues {
  return [['MaxRecvDataSegmentLength', String(t.maxRecvDataSegmentLength)]];
}
