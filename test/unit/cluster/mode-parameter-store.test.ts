// Issue 14, finding 6: mode parameters an initiator sets are cluster state, not one process's
// memory. Before the fix an initiator that set WCE = 0 (or SWP = 1) got the defaults back
// (WCE = 1, SWP = 0) from a restarted node or the one that took over, with no unit attention,
// and only the nexuses on the node that ran MODE SELECT learnt of a change. Here the
// Coordinator (the embedded one, persisting in its data directory) stands for the cluster;
// each engine stands for one node with its own LU of the volume.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../../src/backstore/memory.js';
import { EmbeddedCoordinator } from '../../../src/cluster/embedded-coordinator.js';
import { ClusterModeStore } from '../../../src/cluster/mode-parameter-store.js';
import type { Completion, ItNexus } from '../../../src/scsi/command.js';
import { createOpcodeTable } from '../../../src/scsi/commands.js';
import { LogicalUnit } from '../../../src/scsi/logical-unit.js';
import { ScsiTarget } from '../../../src/scsi/target.js';
import { silentLogger } from '../../../src/util/logger.js';
import { LoopbackCommand, makeNexus, targetPort } from '../../helpers/loopback.js';
import { kcq } from '../../helpers/wire.js';

const VOLUME = 'vol-modes';
const TUR = [0, 0, 0, 0, 0, 0];

interface Node {
  coordinator: EmbeddedCoordinator;
  store: ClusterModeStore;
  engine: ScsiTarget;
  lu: LogicalUnit;
}

let tag = 1;
async function run(n: Node, nexus: ItNexus, cdb: number[], dataOut?: Buffer): Promise<Completion> {
  const c = await n.engine.execute(
    new LoopbackCommand(dataOut ? { cdb, dataOut, nexus } : { cdb, nexus }, { nexus, lun: 0, tag: tag++ }),
  );
  return c.data ? { ...c, data: Buffer.from(c.data) } : c;
}

/** Consumes the nexus's POWER ON unit attention. */
async function login(n: Node, nexus: ItNexus): Promise<void> {
  expect(kcq(await run(n, nexus, TUR))).toBe('06/29/00');
  expect(kcq(await run(n, nexus, TUR))).toBe('GOOD');
}

/** MODE SENSE(6), DBD = 1, current values of one page: the page bytes. */
async function sensePage(n: Node, nexus: ItNexus, page: number): Promise<Buffer> {
  const c = await run(n, nexus, [0x1a, 0x08, page, 0, 0xff, 0]);
  expect(kcq(c)).toBe('GOOD');
  const d = c.data!;
  return Buffer.from(d.subarray(4 + d[3]!, 4 + d[3]! + 2 + d[5 + d[3]!]!));
}

function select6(n: Node, nexus: ItNexus, page: Buffer): Promise<Completion> {
  const list = Buffer.concat([Buffer.alloc(4), page]);
  return run(n, nexus, [0x15, 0x10, 0, 0, list.length, 0], list);
}

const wce = async (n: Node, nexus: ItNexus) => ((await sensePage(n, nexus, 0x08))[2]! & 0x04) !== 0;
const swp = async (n: Node, nexus: ItNexus) => ((await sensePage(n, nexus, 0x0a))[4]! & 0x08) !== 0;

describe('finding 6: mode parameters are cluster state', () => {
  let dataDir: string;
  const nodes: Node[] = [];

  async function coordinator(): Promise<EmbeddedCoordinator> {
    const c = new EmbeddedCoordinator({
      node: { name: 'n1', portals: ['127.0.0.1:3260'], grpc: '', admin: '' },
      logger: silentLogger(),
      configFile: path.join(dataDir, 'config.json'),
    });
    await c.start();
    return c;
  }

  async function node(c: EmbeddedCoordinator, rel: number): Promise<Node> {
    const store = await ClusterModeStore.open({ coordinator: c, volume: VOLUME, logger: silentLogger() });
    const engine = new ScsiTarget(createOpcodeTable(), silentLogger());
    engine.setTargetPorts([targetPort(rel)]);
    const lu = new LogicalUnit(
      new MemoryDevice(1024 * 512),
      { volumeId: VOLUME, blockSize: 512 },
      { modeStore: store },
    );
    engine.addLun(0, lu);
    const n = { coordinator: c, store, engine, lu };
    nodes.push(n);
    return n;
  }

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-modes-'));
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) {
      n.store.close();
      await n.coordinator.close();
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('finding 6: WCE = 0 and SWP = 1 set through one LU are what a fresh LU from the same store reports after a restart', async () => {
    const a = await node(await coordinator(), 1);
    const x = makeNexus(undefined, undefined, targetPort(1));
    await login(a, x);
    expect(await wce(a, x)).toBe(true);
    const caching = await sensePage(a, x, 0x08);
    caching[2] &= ~0x04;
    expect(kcq(await select6(a, x, caching))).toBe('GOOD');
    const control = await sensePage(a, x, 0x0a);
    control[4] |= 0x08;
    expect(kcq(await select6(a, x, control))).toBe('GOOD');
    expect(a.lu.mode.wce).toBe(false);

    // The node restarts: a new coordinator on the same data directory, a new LU.
    a.store.close();
    await a.coordinator.close();
    nodes.splice(0);
    const b = await node(await coordinator(), 1);
    await login(b, x);
    expect(await wce(b, x)).toBe(false);
    expect(await swp(b, x)).toBe(true);
    expect(b.lu.mode.wce).toBe(false);
    // SWP = 1 still write-protects the medium: DATA PROTECT, SOFTWARE WRITE PROTECTED.
    expect(kcq(await run(b, x, [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], Buffer.alloc(512)))).toBe('07/27/02');
  });

  it('finding 6: a change through one node reaches the other node, whose nexuses get MODE PARAMETERS CHANGED 06/2A/01', async () => {
    const c = await coordinator();
    const a = await node(c, 1);
    const b = await node(c, 2);
    const x = makeNexus('iqn.2026-11.test:x', undefined, targetPort(1));
    const y = makeNexus('iqn.2026-11.test:y', undefined, targetPort(2));
    const xOnB = makeNexus('iqn.2026-11.test:x', undefined, targetPort(2));
    await login(a, x);
    await login(b, y);
    await login(b, xOnB);
    const caching = await sensePage(a, x, 0x08);
    caching[2] &= ~0x04;
    expect(kcq(await select6(a, x, caching))).toBe('GOOD');
    // The watch delivers to the other node's LU.
    const until = Date.now() + 2000;
    while (b.lu.mode.wce && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    expect(kcq(await run(b, y, TUR))).toBe('06/2a/01');
    expect(kcq(await run(b, y, TUR))).toBe('GOOD');
    expect(kcq(await run(b, xOnB, TUR))).toBe('06/2a/01');
    expect(await wce(b, y)).toBe(false);
    // The nexus that made the change learns nothing new; its own node reports the new value.
    expect(kcq(await run(a, x, TUR))).toBe('GOOD');
    expect(await wce(a, x)).toBe(false);
    // Setting the same values again changes nothing anywhere.
    expect(kcq(await select6(b, y, caching))).toBe('GOOD');
    await new Promise((r) => setTimeout(r, 20));
    expect(kcq(await run(a, x, TUR))).toBe('GOOD');
    expect(kcq(await run(b, xOnB, TUR))).toBe('GOOD');
  });

  it('a MODE SELECT whose parameters cannot be saved changes nothing and asks for a retry (02/04/0A)', async () => {
    const a = await node(await coordinator(), 1);
    const x = makeNexus(undefined, undefined, targetPort(1));
    await login(a, x);
    const caching = await sensePage(a, x, 0x08);
    caching[2] &= ~0x04;
    await a.coordinator.close(); // the cluster is gone: the save rejects
    expect(kcq(await select6(a, x, caching))).toBe('02/04/0a');
    expect(a.lu.mode.wce).toBe(true);
  });
});

describe('mode parameters go with their volume', () => {
  it('deleting a volume from the configuration drops its mode parameters, also across a restart (a new volume of that name starts from the defaults)', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-modes-del-'));
    const open = async () => {
      const c = new EmbeddedCoordinator({
        node: { name: 'n1', portals: ['127.0.0.1:3260'], grpc: '', admin: '' },
        logger: silentLogger(),
        configFile: path.join(dataDir, 'config.json'),
      });
      await c.start();
      return c;
    };
    try {
      let c = await open();
      await c.putConfig('volumes', VOLUME, { path: 'v.img', size: '1M' });
      await c.putConfig('volumes', 'other', { path: 'o.img', size: '1M' });
      await c.putModeParameters(VOLUME, { wce: false });
      await c.putModeParameters('other', { wce: false });
      expect((await c.readModeParameters(VOLUME)).value).toEqual({ wce: false });
      expect(await c.deleteConfig('volumes', VOLUME)).toBe(true);
      expect((await c.readModeParameters(VOLUME)).value).toBeUndefined();
      await c.close();
      c = await open();
      expect((await c.readModeParameters(VOLUME)).value).toBeUndefined();
      expect((await c.readModeParameters('other')).value).toEqual({ wce: false });
      await c.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
