// Login/text key negotiation (RFC 7143 6.2, 13; RFC 7144; RFC 3720 A.3 for markers): one rule
// per key, checked against the RFC's result functions rather than against src's table.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_TARGET_SETTINGS,
  defaultParams,
  type NegotiatedParams,
  type NegotiationContext,
  negotiate,
  type TargetSettings,
} from '../../../src/iscsi/params.js';
import type { KeyValues } from '../../../src/iscsi/text.js';

const OPERATIONAL: NegotiationContext = { stage: 'operational', sessionType: 'Normal' };
const SECURITY: NegotiationContext = { stage: 'security', sessionType: 'Normal' };
const DISCOVERY: NegotiationContext = { stage: 'operational', sessionType: 'Discovery' };
const FFP: NegotiationContext = { stage: 'full-feature', sessionType: 'Normal' };

let target: TargetSettings;
let params: NegotiatedParams;
let seen: Set<string>;
beforeEach(() => {
  target = {
    ...DEFAULT_TARGET_SETTINGS,
    digests: [...DEFAULT_TARGET_SETTINGS.digests],
    authMethods: ['None'],
  };
  params = defaultParams(target);
  seen = new Set();
});

function offer(kv: KeyValues, ctx: NegotiationContext = OPERATIONAL) {
  return negotiate(kv, target, params, ctx, seen);
}
/** The single answer to one offered key (undefined: no answer). */
function answer(key: string, value: string, ctx: NegotiationContext = OPERATIONAL): string | undefined {
  const r = offer([[key, value]], ctx);
  const hits = r.response.filter(([k]) => k === key);
  expect(hits.length).toBeLessThanOrEqual(1);
  return hits[0]?.[1];
}

describe('list keys (RFC 7143 6.2.1: first value of the offer the target supports)', () => {
  it.each(['HeaderDigest', 'DataDigest'])('%s', (key) => {
    const field = key === 'HeaderDigest' ? 'headerDigest' : 'dataDigest';
    expect(answer(key, 'CRC32C,None')).toBe('CRC32C');
    expect(params[field]).toBe(true);
    seen.clear();
    expect(answer(key, 'None,CRC32C')).toBe('None');
    expect(params[field]).toBe(false);
    seen.clear();
    expect(answer(key, 'MD5,CRC32C')).toBe('CRC32C');
    seen.clear();
    expect(answer(key, 'None')).toBe('None');
    seen.clear();
    expect(answer(key, 'MD5,SHA1')).toBe('Reject');
    seen.clear();
    target.digests = ['None'];
    expect(answer(key, 'CRC32C,None')).toBe('None');
  });

  it('AuthMethod in the security stage', () => {
    expect(answer('AuthMethod', 'CHAP,None', SECURITY)).toBe('None');
    seen.clear();
    expect(answer('AuthMethod', 'CHAP', SECURITY)).toBe('Reject');
    seen.clear();
    target.authMethods = ['CHAP'];
    expect(answer('AuthMethod', 'None,CHAP', SECURITY)).toBe('CHAP');
  });

  it('AuthMethod outside the security stage → Reject', () => {
    expect(answer('AuthMethod', 'None')).toBe('Reject');
  });
});

describe('boolean keys', () => {
  // AND: Yes only when both say Yes. OR: Yes when either says Yes.
  it.each([
    ['ImmediateData', 'and', 'immediateData', true],
    ['IFMarker', 'and', undefined, false],
    ['OFMarker', 'and', undefined, false],
    ['RDMAExtensions', 'and', undefined, false],
    ['InitialR2T', 'or', 'initialR2T', false],
    ['DataPDUInOrder', 'or', 'dataPDUInOrder', true],
    ['DataSequenceInOrder', 'or', 'dataSequenceInOrder', true],
  ] as const)('%s (%s, target %s → %s)', (key, kind, field, targetSays) => {
    for (const theirs of [true, false]) {
      seen.clear();
      const result = kind === 'and' ? theirs && targetSays : theirs || targetSays;
      expect(answer(key, theirs ? 'Yes' : 'No'), `${key}=${theirs}`).toBe(result ? 'Yes' : 'No');
      if (field) expect(params[field as keyof NegotiatedParams]).toBe(result);
    }
    for (const bad of ['yes', 'YES', 'true', '1', '', 'Yes,No']) {
      seen.clear();
      expect(answer(key, bad), `${key}=${bad}`).toBe('Reject');
    }
  });

  it('the target settings decide the boolean rules', () => {
    target.immediateData = false;
    target.initialR2T = true;
    expect(answer('ImmediateData', 'Yes')).toBe('No');
    expect(answer('InitialR2T', 'No')).toBe('Yes');
    expect(params.immediateData).toBe(false);
    expect(params.initialR2T).toBe(true);
  });
});

describe('numeric keys', () => {
  const MAX24 = 16777215;
  // [key, result function, min, max, target value, params field]
  const NUMERIC = [
    ['MaxConnections', 'min', 1, 65535, 1, 'maxConnections'],
    ['MaxBurstLength', 'min', 512, MAX24, DEFAULT_TARGET_SETTINGS.maxBurstLength, 'maxBurstLength'],
    ['FirstBurstLength', 'min', 512, MAX24, DEFAULT_TARGET_SETTINGS.firstBurstLength, 'firstBurstLength'],
    ['DefaultTime2Wait', 'max', 0, 3600, DEFAULT_TARGET_SETTINGS.defaultTime2Wait, 'defaultTime2Wait'],
    ['DefaultTime2Retain', 'min', 0, 3600, DEFAULT_TARGET_SETTINGS.defaultTime2Retain, 'defaultTime2Retain'],
    ['MaxOutstandingR2T', 'min', 1, 65535, DEFAULT_TARGET_SETTINGS.maxOutstandingR2T, 'maxOutstandingR2T'],
    ['ErrorRecoveryLevel', 'min', 0, 2, 0, 'errorRecoveryLevel'],
    ['iSCSIProtocolLevel', 'min', 0, 31, 1, undefined],
  ] as const;

  describe.each(NUMERIC)('%s (%s, %i..%i, target %i)', (key, fn, lo, hi, ours, field) => {
    const f = fn === 'min' ? Math.min : Math.max;
    it.each([lo, lo + 1, ours, hi - 1, hi])('offer %i → the %s of the offer and the target', (n) => {
      const want = String(f(n, ours));
      expect(answer(key, String(n))).toBe(want);
      if (field) expect(params[field as keyof NegotiatedParams]).toBe(Number(want));
    });

    it('out of range → Reject, params untouched', () => {
      const before = { ...params };
      if (lo > 0) {
        expect(answer(key, String(lo - 1))).toBe('Reject');
        seen.clear();
      }
      expect(answer(key, String(hi + 1))).toBe('Reject');
      seen.clear();
      expect(answer(key, '4294967296')).toBe('Reject');
      expect(params).toEqual(before);
    });

    it('not a number → Reject', () => {
      for (const bad of ['', 'abc', '-1', '1.5', ' 5', '5 ', '0x', '12345678901']) {
        seen.clear();
        expect(answer(key, bad), JSON.stringify(bad)).toBe('Reject');
      }
    });

    it('hexadecimal (RFC 7143 5.1 hex-constant) is accepted', () => {
      const n = Math.min(hi, Math.max(lo, 2));
      expect(answer(key, `0x${n.toString(16)}`)).toBe(String(f(n, ours)));
    });
  });

  it('FirstBurstLength never ends up above MaxBurstLength (RFC 7143 13.14)', () => {
    offer([
      ['MaxBurstLength', '4096'],
      ['FirstBurstLength', '8192'],
    ]);
    expect(params.maxBurstLength).toBe(4096);
    expect(params.firstBurstLength).toBeLessThanOrEqual(params.maxBurstLength);
  });

  it('MaxBurstLength below the default FirstBurstLength pulls FirstBurstLength down with it', () => {
    offer([['MaxBurstLength', '4096']]);
    expect(params.firstBurstLength).toBeLessThanOrEqual(params.maxBurstLength);
  });
});

describe('declarative and irrelevant keys', () => {
  it.each(['InitiatorName', 'InitiatorAlias', 'TargetName', 'SessionType'])(
    '%s is recorded, not answered',
    (key) => {
      const r = offer([[key, 'iqn.2024-01.org.example:x']]);
      expect(r.response).toEqual([]);
      expect(r.declared.get(key)).toBe('iqn.2024-01.org.example:x');
    },
  );

  it("MaxRecvDataSegmentLength declares the initiator's receive limit (512..2^24-1)", () => {
    for (const n of [512, 8192, 262144, 16777215]) {
      const r = offer([['MaxRecvDataSegmentLength', String(n)]]);
      expect(r.response).toEqual([]);
      expect(params.initiatorMaxRecvDataSegmentLength).toBe(n);
    }
    const before = params.initiatorMaxRecvDataSegmentLength;
    for (const bad of ['511', '16777216', 'lots', '']) {
      expect(offer([['MaxRecvDataSegmentLength', bad]]).response).toEqual([
        ['MaxRecvDataSegmentLength', 'Reject'],
      ]);
    }
    expect(params.initiatorMaxRecvDataSegmentLength).toBe(before);
  });

  it('MaxRecvDataSegmentLength may be declared again in full feature phase', () => {
    const r = offer([['MaxRecvDataSegmentLength', '65536']], FFP);
    expect(r.response).toEqual([]);
    expect(params.initiatorMaxRecvDataSegmentLength).toBe(65536);
  });

  it.each(['IFMarkInt', 'OFMarkInt'])('%s → Irrelevant (markers are never used)', (key) => {
    expect(answer(key, '2048~8192')).toBe('Irrelevant');
  });

  it('CHAP_ keys are passed on as declarations, not answered', () => {
    const r = offer(
      [
        ['CHAP_A', '5'],
        ['CHAP_N', 'user'],
      ],
      SECURITY,
    );
    expect(r.response).toEqual([]);
    expect(r.declared.get('CHAP_A')).toBe('5');
  });
});

describe('keys the target does not negotiate', () => {
  it.each(['X-com.example.Feature', 'X#vendor', 'Foo', 'headerdigest', 'TargetAddress2'])(
    '%s → NotUnderstood',
    (key) => {
      expect(answer(key, 'whatever')).toBe('NotUnderstood');
    },
  );

  it("answers the initiator's NotUnderstood / Irrelevant / Reject with nothing", () => {
    expect(
      offer([
        ['HeaderDigest', 'NotUnderstood'],
        ['ImmediateData', 'Irrelevant'],
        ['MaxBurstLength', 'Reject'],
      ]).response,
    ).toEqual([]);
  });
});

describe('a key offered twice (RFC 7143 6.2)', () => {
  it('within one batch: the second is Rejected, the first one stands', () => {
    const r = offer([
      ['MaxBurstLength', '65536'],
      ['MaxBurstLength', '4096'],
    ]);
    expect(r.response).toEqual([
      ['MaxBurstLength', '65536'],
      ['MaxBurstLength', 'Reject'],
    ]);
    expect(params.maxBurstLength).toBe(65536);
  });

  it('in a later login request of the same login: Reject', () => {
    expect(answer('ImmediateData', 'Yes')).toBe('Yes');
    expect(answer('ImmediateData', 'No')).toBe('Reject');
    expect(params.immediateData).toBe(true);
  });

  it('even when the first offer was itself rejected', () => {
    expect(answer('ErrorRecoveryLevel', '7')).toBe('Reject');
    expect(answer('ErrorRecoveryLevel', '0')).toBe('Reject');
  });
});

describe('stage and session type', () => {
  it.each([
    'InitialR2T',
    'ImmediateData',
    'MaxBurstLength',
    'FirstBurstLength',
    'MaxOutstandingR2T',
    'DataPDUInOrder',
    'DataSequenceInOrder',
  ])('%s in a discovery session → Irrelevant', (key) => {
    const value = ['InitialR2T', 'ImmediateData', 'DataPDUInOrder', 'DataSequenceInOrder'].includes(key)
      ? 'Yes'
      : '4096';
    const before = { ...params };
    expect(answer(key, value, DISCOVERY)).toBe('Irrelevant');
    expect(params).toEqual(before);
  });

  it('digests and ErrorRecoveryLevel are negotiated in discovery sessions too', () => {
    expect(answer('HeaderDigest', 'CRC32C', DISCOVERY)).toBe('CRC32C');
    expect(answer('ErrorRecoveryLevel', '1', DISCOVERY)).toBe('0');
  });

  it.each([
    'HeaderDigest',
    'MaxBurstLength',
    'ImmediateData',
    'MaxConnections',
    'DefaultTime2Wait',
    'ErrorRecoveryLevel',
  ])('%s in full feature phase → Reject (login-only)', (key) => {
    const value = key === 'HeaderDigest' ? 'None' : key === 'ImmediateData' ? 'No' : '4';
    const before = { ...params };
    expect(answer(key, value, FFP)).toBe('Reject');
    expect(params).toEqual(before);
  });
});
