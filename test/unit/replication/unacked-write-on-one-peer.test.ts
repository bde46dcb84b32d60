// Regression: a dead primary's unacknowledged write that reached one peer only. In a three-way
// set a sends W to c; b misses it (partitioned) and a's removal of b cannot commit, so W is never
// acknowledged; a dies. b is elected (still in the in-sync set) and c, consistent, joined b's
// term with no resync: the region of W differed between two in-sync copies (verify found it, and
// a failover to c would serve W where b served the old data). Every replica now marks what it
// applies (replica-marks.ts), c reports W's region, and b resyncs it (c stays in the in-sync set:
// it is intact; a member that may have lost writes is taken out, dirty-member-resync.test.ts).
import { afterEach, expect, it } from 'vitest';
import { type Cluster, cluster, MiB, pattern, peerState, primaryInSync, sleep, until } from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

it('an unacknowledged write of a dead primary on one peer only is resynced by the next primary', async () => {
  c = await cluster({ names: ['a', 'b', 'c'], size: 16 * MiB, inSync: ['a', 'b', 'c'] });
  const [a, b, p] = [c.node('a'), c.node('b'), c.node('c')];
  await primaryInSync(c, 'a', 'b', 'c');
  const old = await b.device.read(3 * MiB, 4096);
  // a loses b; its removal of b cannot commit (a is losing its lease): W is never acknowledged.
  c.inSync.failRemoves = Infinity;
  c.inSync.removeDelayMs = 200;
  b.kill();
  const w = pattern(4096, 7);
  const pending = a.volume.blockDevice.write(3 * MiB, w, true).then(
    () => 'acknowledged',
    (e: Error) => e.message,
  );
  for (let i = 0; !(await p.device.read(3 * MiB, 4096)).equals(w); i++) {
    if (i > 2000) throw new Error('c never got W');
    await sleep(5);
  }
  expect((await b.device.read(3 * MiB, 4096)).equals(old)).toBe(true);
  a.canServe = false;
  a.volume.lostPrimary();
  expect(await pending).not.toBe('acknowledged');
  a.kill();
  c.live.delete('a');
  await a.volume.close();
  c.inSync.failRemoves = 0;
  c.inSync.removeDelayMs = 0;
  await b.restart();
  b.canServe = true;
  c.inSync.set.delete('a');
  await b.volume.becamePrimary(2);
  await until('c in sync with b', () => peerState(b.volume, 'c') === 'in-sync', 20_000);
  // c stayed in the in-sync set throughout: it never restarted (intact), so it holds every
  // acknowledged write; only W's region, unacknowledged, differed, and b resynced it.
  expect(c.inSync.log.filter((l) => l.startsWith('remove c'))).toEqual([]);
  const v = await b.volume.verify();
  expect(v.differing).toEqual([]);
  expect((await p.device.read(3 * MiB, 4096)).equals(await b.device.read(3 * MiB, 4096))).toBe(true);
  // c was resynced (W's region, named by c's own bitmap), not declared in sync as it was.
  expect(b.volume.status().peers.find((x) => x.node === 'c')?.resyncTotalBytes).toBeGreaterThan(0);
});

it('two-way: the returning old primary is resynced the region of its unacknowledged write', async () => {
  c = await cluster({ names: ['a', 'b'], size: 16 * MiB, inSync: ['a', 'b'] });
  const [a, b] = [c.node('a'), c.node('b')];
  await primaryInSync(c, 'a', 'b');
  const old = await b.device.read(3 * MiB, 4096);
  c.inSync.failRemoves = Infinity;
  c.inSync.removeDelayMs = 200;
  b.kill();
  const w = pattern(4096, 9);
  const pending = a.volume.blockDevice.write(3 * MiB, w, true).then(
    () => 'acknowledged',
    (e: Error) => e.message,
  );
  for (let i = 0; !(await a.device.read(3 * MiB, 4096)).equals(w); i++) {
    if (i > 2000) throw new Error('a never wrote W');
    await sleep(5);
  }
  a.canServe = false;
  a.volume.lostPrimary();
  expect(await pending).not.toBe('acknowledged');
  a.kill();
  c.live.delete('a');
  c.inSync.failRemoves = 0;
  c.inSync.removeDelayMs = 0;
  await b.restart();
  b.canServe = true;
  c.inSync.set.delete('a'); // the new primary removes the dead one (its session expired)
  await b.volume.becamePrimary(2);
  // a returns: its own bitmap names W's region.
  await c.reopen('a');
  await a.restart();
  c.live.add('a');
  b.volume.peersChanged();
  await until('a in sync with b', () => peerState(b.volume, 'a') === 'in-sync', 20_000);
  expect((await b.volume.verify()).differing).toEqual([]);
  expect((await a.device.read(3 * MiB, 4096)).equals(old)).toBe(true);
});
