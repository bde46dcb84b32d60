// Replica sets of three (issue 15): protocol C to every in-sync peer (rule 1), a failed peer out
// of the in-sync set before the write it lacks is acknowledged while the other keeps mirroring
// (rule 2), two returning peers resynced at once (rule 6), and minInSync: writes refused with a
// typed error (DATA PROTECT on the wire) while fewer copies are in sync, resumed once enough are.
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceError } from '../../../src/backstore/device-error.js';
import { type Cluster, cluster, MiB, pattern, peerState, sameContents, until } from './harness.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

async function threeInSync(minInSync?: () => number): Promise<Cluster> {
  c = await cluster({
    names: ['a', 'b', 'c'],
    size: 16 * MiB,
    inSync: ['a', 'b', 'c'],
    ...(minInSync ? { minInSync } : {}),
  });
  for (const n of c.nodes.values()) await n.volume.initDataset('ds1');
  const a = c.node('a');
  a.canServe = true;
  await a.volume.becamePrimary(1);
  await until('b and c in sync', () => ['b', 'c'].every((p) => peerState(a.volume, p) === 'in-sync'));
  return c;
}

async function refusal(p: Promise<void>): Promise<DeviceError | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err as DeviceError;
  }
}

describe('three-way replica set', () => {
  it('mirrors every write to both in-sync peers; a failed peer leaves the set before the ack, the other keeps mirroring', async () => {
    const cl = await threeInSync();
    const a = cl.node('a');
    const dev = a.volume.blockDevice;
    await Promise.all(
      Array.from({ length: 32 }, (_, i) => dev.write(i * 65536, pattern(65536, i), i % 4 === 0)),
    );
    expect(await sameContents(a.device, cl.node('b').device)).toBe(true);
    expect(await sameContents(a.device, cl.node('c').device)).toBe(true);

    cl.node('b').kill();
    await dev.write(4 * MiB, pattern(4096, 99), true);
    // Acknowledged only after b left the set; c got it.
    expect(cl.inSync.set.has('b')).toBe(false);
    expect(cl.inSync.set.has('c')).toBe(true);
    expect((await cl.node('c').device.read(4 * MiB, 4096)).equals(pattern(4096, 99))).toBe(true);
    expect(peerState(a.volume, 'c')).toBe('in-sync');
  });

  it('resyncs two returning peers at once; both rejoin and hold identical data', async () => {
    const cl = await threeInSync();
    const a = cl.node('a');
    cl.live.delete('b');
    cl.live.delete('c');
    a.volume.peersChanged();
    await until('b and c out of the set', () => !cl.inSync.set.has('b') && !cl.inSync.set.has('c'));
    for (let i = 0; i < 8; i++) await a.volume.blockDevice.write(i * MiB + 512, pattern(8192, 10 + i), false);
    cl.node('b').device.delayMs = 20;
    cl.node('c').device.delayMs = 20;
    cl.live.add('b');
    cl.live.add('c');
    a.volume.peersChanged();
    await until('both resyncing', () => ['b', 'c'].every((p) => peerState(a.volume, p) === 'resyncing'));
    await until('both in sync', () => ['b', 'c'].every((p) => peerState(a.volume, p) === 'in-sync'));
    expect([...cl.inSync.set].sort()).toEqual(['a', 'b', 'c']);
    for (const p of ['b', 'c']) expect(await sameContents(a.device, cl.node(p).device), p).toBe(true);
  });

  it('minInSync 2: with one peer down and the other resyncing writes are refused (too-few-copies), reads go on; they resume once it is in sync', async () => {
    let min = 2;
    const cl = await threeInSync(() => min);
    const a = cl.node('a');
    const dev = a.volume.blockDevice;
    await dev.write(0, pattern(4096, 1), false);
    cl.live.delete('b');
    cl.live.delete('c');
    a.volume.peersChanged();
    await until('b and c out of the set', () => !cl.inSync.set.has('b') && !cl.inSync.set.has('c'));
    const err = await refusal(dev.write(MiB, pattern(4096, 2), false));
    expect(err).toBeInstanceOf(DeviceError);
    expect(err?.kind).toBe('too-few-copies');
    expect(err?.code).toBe('TANDEM_ERR_REPLICATION_TOO_FEW_COPIES');
    expect(await refusal(dev.discard!(0, 4096))).toMatchObject({ kind: 'too-few-copies' });
    await dev.flush(); // a flush changes no data
    expect((await dev.read(0, 4096)).equals(pattern(4096, 1))).toBe(true);
    expect(
      (await a.device.read(MiB, 4096)).equals(Buffer.alloc(4096)),
      'a refused write changes nothing',
    ).toBe(true);

    // minInSync 1 (the operator's choice): served on the primary alone, per rule 1.
    min = 1;
    for (let i = 0; i < 8; i++) await dev.write(2 * MiB + i * MiB, pattern(65536, 20 + i), false);
    min = 2;
    cl.node('b').device.delayMs = 30;
    cl.live.add('b');
    a.volume.peersChanged();
    await until('b resyncing', () => peerState(a.volume, 'b') === 'resyncing');
    expect(await refusal(dev.write(MiB, pattern(4096, 3), false))).toMatchObject({ kind: 'too-few-copies' });
    await until('b in sync', () => peerState(a.volume, 'b') === 'in-sync');
    await dev.write(MiB, pattern(4096, 4), false);
    expect((await cl.node('b').device.read(MiB, 4096)).equals(pattern(4096, 4))).toBe(true);
    expect(await sameContents(a.device, cl.node('b').device)).toBe(true);
  });
});
