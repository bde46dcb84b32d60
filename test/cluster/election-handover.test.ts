// Planned switchover to a named node among several candidates (issue 15: `switchover --to` on a
// three-way volume). resign({ to }) deletes the election key and writes a hand-over record in one
// transaction; only the named candidate may take the key while the record exists, whatever the
// order the candidates wake in. A hand-over nobody takes ends when the old leader campaigns again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdCoordinator } from '../../src/cluster/etcd-coordinator.js';
import { type Etcd, startEtcd } from '../helpers/etcd.js';
import { coordinator, freshPrefix, waitFor } from './support.js';

let etcd: Etcd;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.kill();
});

const leaderOf = (cs: EtcdCoordinator[], volume: string) => cs.find((c) => c.role(volume) === 'leader');

describe('election: hand-over to a named candidate', () => {
  it('only the named node takes the key, again and again; the others stay candidates', async () => {
    const prefix = freshPrefix();
    const cs = ['node-a', 'node-b', 'node-c'].map((n) => coordinator(etcd, n, prefix));
    await Promise.all(cs.map((c) => c.start()));
    const volume = 'vol';
    for (const c of cs) c.campaign(volume);
    await waitFor('a leader', () => leaderOf(cs, volume) !== undefined);
    // Hand it around: each time to the candidate that is not first in line by name.
    for (let round = 0; round < 6; round++) {
      const from = leaderOf(cs, volume)!;
      const others = cs.filter((c) => c !== from);
      const to = others[round % 2]!;
      await from.resign(volume, { to: to.nodeName });
      await waitFor(`${to.nodeName} leads`, () => to.role(volume) === 'leader');
      await new Promise((r) => setTimeout(r, 200));
      expect(cs.filter((c) => c.role(volume) === 'leader')).toEqual([to]);
      expect((await from.leader(volume))?.node).toBe(to.nodeName);
      from.campaign(volume);
    }
  });

  it('a hand-over to a node that never takes it ends when the old leader campaigns again', async () => {
    const prefix = freshPrefix();
    const [a, b] = ['node-a', 'node-b'].map((n) => coordinator(etcd, n, prefix)) as [
      EtcdCoordinator,
      EtcdCoordinator,
    ];
    await Promise.all([a.start(), b.start()]);
    const volume = 'vol';
    a.campaign(volume);
    await waitFor('a leads', () => a.role(volume) === 'leader');
    b.campaign(volume);
    await a.resign(volume, { to: 'node-z' });
    // b holds back: the role is promised to node-z.
    await new Promise((r) => setTimeout(r, 1000));
    expect(b.role(volume)).toBe('candidate');
    expect(await a.leader(volume)).toBeUndefined();
    // a campaigns again: its own record is dropped and the election is ordinary again.
    a.campaign(volume);
    await waitFor('a leader again', () => a.role(volume) === 'leader' || b.role(volume) === 'leader');
  });
});
