// The etcd key layout: one prefix, kind first, URI-encoded segments, config keys parsed back.
import { describe, expect, it } from 'vitest';
import { KeyLayout } from '../../../src/cluster/keys.js';

describe('KeyLayout', () => {
  const k = KeyLayout.forCluster('prod');

  it('puts everything under /tandem/<cluster>/', () => {
    expect(k.prefix).toBe('/tandem/prod/');
    expect(k.member('node-a')).toBe('/tandem/prod/members/node-a');
    expect(k.leader('vol-1')).toBe('/tandem/prod/leaders/vol-1');
    expect(k.alua('vol-1')).toBe('/tandem/prod/alua/vol-1');
    expect(k.reservation('vol-1')).toBe('/tandem/prod/reservations/vol-1');
    expect(k.prAppliedBy('vol-1', 'node-a')).toBe('/tandem/prod/pr-applied/vol-1/node-a');
    expect(k.seed('vol-1')).toBe('/tandem/prod/seeds/vol-1');
    expect(k.tpg('node-a')).toBe('/tandem/prod/ids/tpg/node-a');
    expect(k.tpgCounter()).toBe('/tandem/prod/ids/next/tpg');
    expect(k.configKey('targets', 'iqn.2026-11.org.tandem:demo')).toBe(
      '/tandem/prod/config/targets/iqn.2026-11.org.tandem%3Ademo',
    );
  });

  it('never lets a name escape its segment (a node called "next", a portal with brackets)', () => {
    expect(k.tpg('next')).not.toBe(k.tpgCounter());
    const key = k.rtpi('node/a', '[::1]:3260');
    expect(key).toBe('/tandem/prod/ids/rtpi/node%2Fa/%5B%3A%3A1%5D%3A3260');
    expect(k.rest(k.rtpis(), key)).toEqual(['node/a', '[::1]:3260']);
  });

  it('parses config keys it wrote and ignores others', () => {
    const name = 'iqn.2026-11.org.tandem:demo/0';
    expect(k.parseConfigKey(k.configKey('luns', name))).toEqual({ kind: 'luns', name });
    expect(k.parseConfigKey('/tandem/prod/config/unknown/x')).toBeUndefined();
    expect(k.parseConfigKey('/tandem/prod/config/luns')).toBeUndefined();
    expect(k.parseConfigKey('/tandem/prod/config/luns/a/b')).toBeUndefined();
  });

  it('rejects bad prefixes and empty or oversized names', () => {
    for (const p of ['tandem/', '/tandem', '/', '']) {
      expect(() => new KeyLayout(p)).toThrow(
        expect.objectContaining({ code: 'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT' }),
      );
    }
    expect(() => k.leader('')).toThrow(
      expect.objectContaining({ code: 'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT' }),
    );
    expect(() => k.leader('x'.repeat(256))).toThrow(
      expect.objectContaining({ code: 'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT' }),
    );
    // @ts-expect-error an unknown kind is a type error, and a runtime one too
    expect(() => k.configKey('secrets', 'x')).toThrow(
      expect.objectContaining({ code: 'TANDEM_ERR_CLUSTER_INVALID_ARGUMENT' }),
    );
  });
});
