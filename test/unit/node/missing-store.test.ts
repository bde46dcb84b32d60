// Issue 14, finding 3: a missing or short backing file must not come back as a valid, in-sync
// replica. The node recreates (sparse) or grows the file, so the copy must open as not valid
// (a full resync) instead of serving zeroes as the truth.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { volumeSchema } from '../../../src/admin/config-schema.js';
import type { BlockDevice } from '../../../src/backstore/block-device.js';
import { openVolumeDevice } from '../../../src/node/open-device.js';
import { ReplicatedVolume } from '../../../src/replication/index.js';

const MiB = 1 << 20;
let dir: string;
let logs: { level: number; msg: string }[];
let log: pino.Logger;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-missing-store-'));
  logs = [];
  log = pino(
    { level: 'debug' },
    { write: (line: string) => void logs.push(JSON.parse(line) as { level: number; msg: string }) },
  );
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function volume(kind: 'replicated' | 'shared', size = 4 * MiB) {
  return volumeSchema.parse({ id: 'v1', kind, size, blockSize: 512 });
}

async function openReplica(device: BlockDevice): Promise<ReplicatedVolume> {
  const rv = new ReplicatedVolume({
    volume: 'v1',
    node: 'a',
    logger: log,
    device,
    stateDir: path.join(dir, 'replication'),
    inSync: { members: () => new Set(['a']), remove: async () => undefined, add: async () => undefined },
    peers: () => [],
    replicas: () => [],
    canServeWrites: () => false,
  });
  await rv.open();
  return rv;
}

/** A replicated volume with data: valid, dataset d1, closed. */
async function withData(size = 4 * MiB): Promise<void> {
  const rv = await openReplica(await openVolumeDevice(dir, volume('replicated', size), log));
  await rv.initDataset('d1');
  await rv.close();
}

async function reopen(size = 4 * MiB): Promise<ReplicatedVolume> {
  return openReplica(await openVolumeDevice(dir, volume('replicated', size), log));
}

describe('finding 3: a missing or short backing file is not a valid replica', () => {
  it('a missing backing file is recreated but the copy opens as not valid, and says why', async () => {
    await withData();
    fs.rmSync(path.join(dir, 'v1.img'));
    const rv = await reopen();
    expect(rv.hasValidData).toBe(false);
    expect(rv.status().datasetId).toBe('');
    expect(logs.some((l) => l.level >= 50 && /missing/.test(l.msg))).toBe(true);
    await rv.close();
  });

  it('a backing file shorter than recorded is grown but the copy opens as not valid', async () => {
    await withData();
    fs.truncateSync(path.join(dir, 'v1.img'), MiB);
    const rv = await reopen();
    expect(rv.hasValidData).toBe(false);
    expect(logs.some((l) => l.level >= 50 && /shorter/.test(l.msg))).toBe(true);
    await rv.close();
  });

  it('an intact file stays valid, and a grown volume (resize while down) too', async () => {
    await withData();
    let rv = await reopen();
    expect(rv.hasValidData).toBe(true);
    await rv.close();
    rv = await reopen(8 * MiB);
    expect(rv.hasValidData).toBe(true);
    // A store grown while down stays this copy's data; the LU keeps serving the committed size
    // until a resize has prepared every copy (issue 15, resize.ts).
    expect(rv.blockDevice.size).toBe(4 * MiB);
    await rv.close();
  });

  it('a non-replicated volume: a missing file is created with a warning naming it', async () => {
    const dev = await openVolumeDevice(dir, volume('shared'), log);
    await dev.close();
    expect(logs.some((l) => l.level === 40 && /did not exist/.test(l.msg))).toBe(true);
  });
});
