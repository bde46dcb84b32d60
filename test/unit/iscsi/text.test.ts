// iSCSI text key=value pairs (RFC 7143 6.1): NUL-terminated, key names of at most 63
// characters from [A-Za-z0-9.-+@_].
import { describe, expect, it } from 'vitest';
import { encodeKeyValues, parseKeyValues, TextFormatError } from '../../../src/iscsi/text.js';

const text = (s: string) => Buffer.from(s, 'utf8');

describe('parseKeyValues', () => {
  it('parses pairs in order', () => {
    expect(parseKeyValues(text('InitiatorName=iqn.a:b\0SessionType=Normal\0'))).toEqual([
      ['InitiatorName', 'iqn.a:b'],
      ['SessionType', 'Normal'],
    ]);
  });

  it('splits at the first "=" only: values may contain "="', () => {
    expect(parseKeyValues(text('CHAP_C=0xab=cd\0'))).toEqual([['CHAP_C', '0xab=cd']]);
  });

  it('keeps an empty value', () => {
    expect(parseKeyValues(text('TargetAlias=\0'))).toEqual([['TargetAlias', '']]);
  });

  it('keeps repeated keys (negotiation decides what they mean)', () => {
    expect(parseKeyValues(text('A=1\0A=2\0'))).toEqual([
      ['A', '1'],
      ['A', '2'],
    ]);
  });

  it('empty data and stray NULs (padding) give nothing', () => {
    expect(parseKeyValues(Buffer.alloc(0))).toEqual([]);
    expect(parseKeyValues(Buffer.alloc(4))).toEqual([]);
    expect(parseKeyValues(text('A=1\0\0\0'))).toEqual([['A', '1']]);
  });

  it('decodes UTF-8 values', () => {
    expect(parseKeyValues(text('InitiatorAlias=hôte-ñ\0'))).toEqual([['InitiatorAlias', 'hôte-ñ']]);
  });

  it('accepts every character the RFC allows in a key name, and 63 of them', () => {
    const key = 'aZ09.-+@_';
    expect(parseKeyValues(text(`${key}=v\0`))).toEqual([[key, 'v']]);
    const k63 = 'K'.repeat(63);
    expect(parseKeyValues(text(`${k63}=v\0`))).toEqual([[k63, 'v']]);
  });

  it.each([
    ['no "="', 'InitiatorName\0'],
    ['empty key', '=value\0'],
    ['a 64-character key', `${'K'.repeat(64)}=v\0`],
    ['a space in the key', 'Header Digest=None\0'],
    ['a "#" in the key', 'X#a=1\0'],
    ['a non-ASCII key', 'Clé=1\0'],
    ['a malformed pair after a good one', 'A=1\0garbage\0'],
  ])('%s → TextFormatError', (_n, s) => {
    expect(() => parseKeyValues(text(s))).toThrow(TextFormatError);
  });
});

describe('encodeKeyValues', () => {
  it('writes key=value\\0 for every pair and round-trips', () => {
    const kv: Array<[string, string]> = [
      ['HeaderDigest', 'None'],
      ['TargetAlias', ''],
      ['X-com.example', 'a=b'],
    ];
    const b = encodeKeyValues(kv);
    expect(b.toString('latin1')).toBe('HeaderDigest=None\0TargetAlias=\0X-com.example=a=b\0');
    expect(parseKeyValues(b)).toEqual(kv);
  });

  it('nothing to send is an empty buffer', () => {
    expect(encodeKeyValues([]).length).toBe(0);
  });
});
