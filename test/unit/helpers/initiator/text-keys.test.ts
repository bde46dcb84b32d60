import { describe, expect, it } from 'vitest';
import {
  answerOffer,
  decodeTextKeys,
  encodeTextKeys,
  judgeAnswer,
} from '../../../helpers/initiator/text-keys.js';

describe('text key=value segments', () => {
  it('round-trips pairs with NUL terminators, keeping duplicates and order', () => {
    const pairs: Array<[string, string]> = [
      ['TargetName', 'iqn.x:a'],
      ['TargetAddress', '10.0.0.1:3260,1'],
      ['TargetAddress', '[::1]:3260,1'],
      ['X-Empty', ''],
    ];
    const buf = encodeTextKeys(pairs);
    expect(buf.toString()).toBe(
      'TargetName=iqn.x:a\0TargetAddress=10.0.0.1:3260,1\0TargetAddress=[::1]:3260,1\0X-Empty=\0',
    );
    expect(decodeTextKeys(buf)).toEqual(pairs);
  });

  it('keeps "=" inside values and rejects entries without a key', () => {
    expect(decodeTextKeys(Buffer.from('A=b=c\0'))).toEqual([['A', 'b=c']]);
    expect(() => decodeTextKeys(Buffer.from('novalue\0'))).toThrow(RangeError);
    expect(() => decodeTextKeys(Buffer.from('=x\0'))).toThrow(RangeError);
  });
});

describe('judgeAnswer (RFC 7143 6.2 result functions)', () => {
  it('accepts valid answers', () => {
    expect(judgeAnswer('HeaderDigest', 'CRC32C,None', 'None')).toEqual({ value: 'None' });
    expect(judgeAnswer('MaxBurstLength', '262144', '65536')).toEqual({ value: '65536' });
    expect(judgeAnswer('DefaultTime2Wait', '2', '5')).toEqual({ value: '5' });
    expect(judgeAnswer('ImmediateData', 'Yes', 'No')).toEqual({ value: 'No' });
    expect(judgeAnswer('InitialR2T', 'No', 'Yes')).toEqual({ value: 'Yes' });
    expect(judgeAnswer('TargetAlias', 'x', 'y')).toEqual({ value: 'y' });
  });

  it('flags answers that break the function and falls back to the default', () => {
    expect(judgeAnswer('HeaderDigest', 'None', 'CRC32C').violation).toMatch(/offered/);
    expect(judgeAnswer('MaxBurstLength', '65536', '262144')).toMatchObject({
      value: '262144',
      violation: expect.any(String),
    });
    expect(judgeAnswer('DefaultTime2Wait', '5', '2').violation).toMatch(/maximum/);
    expect(judgeAnswer('ImmediateData', 'No', 'Yes').violation).toMatch(/AND/);
    expect(judgeAnswer('InitialR2T', 'Yes', 'No').violation).toMatch(/OR/);
    expect(judgeAnswer('ErrorRecoveryLevel', '2', '3').violation).toMatch(/outside/);
    expect(judgeAnswer('MaxBurstLength', '65536', 'lots').violation).toMatch(/number/);
  });

  it('treats Reject, Irrelevant and NotUnderstood as the default', () => {
    expect(judgeAnswer('FirstBurstLength', '4096', 'Irrelevant')).toEqual({ value: '65536' });
    expect(judgeAnswer('DataDigest', 'CRC32C', 'Reject')).toEqual({ value: 'None' });
  });
});

describe('answerOffer', () => {
  it('answers a target offer with the result of the key function', () => {
    expect(answerOffer('MaxBurstLength', '65536', '262144')).toBe('65536');
    expect(answerOffer('DefaultTime2Wait', '1', '2')).toBe('2');
    expect(answerOffer('ImmediateData', 'Yes', 'No')).toBe('No');
    expect(answerOffer('InitialR2T', 'No', 'Yes')).toBe('Yes');
    expect(answerOffer('HeaderDigest', 'CRC32C,None', 'None')).toBe('None');
    expect(answerOffer('HeaderDigest', 'CRC32C', 'None')).toBe('Reject');
    expect(answerOffer('X-com.example.Key', 'v', undefined)).toBe('NotUnderstood');
    expect(answerOffer('TargetAlias', 'x', undefined)).toBeUndefined();
  });
});
