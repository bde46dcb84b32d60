// Changing a replicated volume's replica set (volume replicas add|remove) and minInSync: the
// rules the admin backend enforces on every volume write (DESIGN.md safety rule 2: the in-sync
// copies hold every acknowledged write; one of them must stay), and the config operations.
import { describe, expect, it } from 'vitest';
import type { ConfigEntryView } from '../../../src/admin/admin-client.js';
import * as ops from '../../../src/admin/admin-ops.js';
import { checkReplicaChange } from '../../../src/admin/replica-policy.js';
import type { ConfigKind, JsonValue } from '../../../src/cluster/coordinator.js';

const base = { volume: 'v', before: ['a', 'b', 'c'], inSync: ['a', 'b'], primary: 'a' };

describe('checkReplicaChange', () => {
  it('allows adding a replica, and removing one while an in-sync copy stays', () => {
    expect(() => checkReplicaChange({ ...base, after: ['a', 'b', 'c', 'd'] })).not.toThrow();
    expect(() => checkReplicaChange({ ...base, after: ['a', 'b'] })).not.toThrow();
    expect(() => checkReplicaChange({ ...base, after: ['a', 'c'] })).not.toThrow();
  });

  it('refuses removing the last in-sync copy, the primary, every replica, and minInSync above the replicas', () => {
    // No primary (it died): b is the only in-sync copy left in the set.
    expect(() =>
      checkReplicaChange({ volume: 'v', before: ['a', 'b', 'c'], inSync: ['b'], after: ['a', 'c'] }),
    ).toThrow('volume v: removing b would remove the last in-sync copy (in sync: b)');
    expect(() => checkReplicaChange({ ...base, after: ['b', 'c'] })).toThrow(
      'volume v: a is its primary; move the role first (tandemctl switchover v --to NODE)',
    );
    expect(() => checkReplicaChange({ ...base, primary: '', after: [] })).toThrow('at least one replica');
    expect(() => checkReplicaChange({ ...base, after: ['a', 'b'], minInSync: 3 })).toThrow(
      'volume v: minInSync 3 is more than its 2 replicas: no write could be accepted',
    );
    expect(() => checkReplicaChange({ ...base, after: ['a', 'b', 'c'], minInSync: 3 })).not.toThrow();
  });
});

/** The config calls over a Map, with compare-and-set revisions. */
class MemoryStore implements ops.ConfigStore {
  readonly entries = new Map<string, { value: JsonValue; revision: number }>();
  #rev = 1;
  async listConfig(kind?: ConfigKind) {
    const entries: ConfigEntryView[] = [...this.entries]
      .filter(([k]) => !kind || k.startsWith(`${kind}/`))
      .map(([k, e]) => ({ kind: k.split('/')[0] as ConfigKind, name: k.slice(k.indexOf('/') + 1), ...e }));
    return { revision: this.#rev, entries };
  }
  async getConfig(kind: ConfigKind, name: string) {
    const e = this.entries.get(`${kind}/${name}`);
    return e ? { kind, name, ...e } : undefined;
  }
  async putConfig(kind: ConfigKind, name: string, value: JsonValue, expected?: number) {
    const cur = this.entries.get(`${kind}/${name}`);
    if (expected !== undefined && (cur?.revision ?? 0) !== expected) throw new Error('conflict');
    this.entries.set(`${kind}/${name}`, { value, revision: ++this.#rev });
    return this.#rev;
  }
  async deleteConfig(kind: ConfigKind, name: string) {
    return this.entries.delete(`${kind}/${name}`);
  }
}

describe('volume set / volume replicas', () => {
  it('sets and drops minInSync; adds and removes a replica, from the configured list or the set in force', async () => {
    const s = new MemoryStore();
    await ops.volumeCreate(s, 'v', { size: '1M' });
    expect((await ops.volumeSet(s, 'v', { minInSync: 2 })).minInSync).toBe(2);
    expect((await ops.volumeSet(s, 'v', {})).minInSync).toBeUndefined();
    // No list configured: the set in force (every node) is where the change starts.
    expect(await ops.volumeReplicas(s, 'v', 'add', 'd', ['a', 'b', 'c'])).toEqual(['a', 'b', 'c', 'd']);
    expect(await ops.volumeReplicas(s, 'v', 'remove', 'b', [])).toEqual(['a', 'c', 'd']);
    expect(((await s.getConfig('volumes', 'v'))!.value as { replicas: string[] }).replicas).toEqual([
      'a',
      'c',
      'd',
    ]);
  });

  it('refuses a replica already there, one not there, a shared volume, and --min-in-sync above --replicas', async () => {
    const s = new MemoryStore();
    await ops.volumeCreate(s, 'v', { size: '1M', replicas: ['a', 'b'] });
    await expect(ops.volumeReplicas(s, 'v', 'add', 'a', [])).rejects.toThrow(
      'a already holds a replica of v',
    );
    await expect(ops.volumeReplicas(s, 'v', 'remove', 'c', [])).rejects.toThrow(
      'c holds no replica of v (replicas: a, b)',
    );
    await ops.volumeCreate(s, 'sh', { size: '1M', kind: 'shared' });
    await expect(ops.volumeSet(s, 'sh', { minInSync: 2 })).rejects.toThrow('is not replicated');
    await expect(ops.volumeReplicas(s, 'sh', 'add', 'a', [])).rejects.toThrow('is not replicated');
    await expect(
      ops.volumeCreate(s, 'w', { size: '1M', replicas: ['a', 'b'], minInSync: 3 }),
    ).rejects.toThrow('--min-in-sync 3 is more than its 2 replicas');
    await expect(ops.volumeReplicas(s, 'nope', 'add', 'a', [])).rejects.toBeInstanceOf(ops.RefusedError);
  });
});
