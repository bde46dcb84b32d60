// Issue #5, check 3: overlapping writes never make the replicas diverge (DESIGN.md safety rule 5:
// overlapping WRITEs and COMPARE AND WRITEs are ordered by one LBA range lock on the primary, so
// every replica ends byte-identical whatever the interleaving). Two initiators hammer the same
// 256 LBAs with WRITE(16), COMPARE AND WRITE and UNMAP at queue depth 4 each: one through the
// multipath logic (the Active/Optimized primary), the other only through the Active/Non-optimized
// peer, whose commands are forwarded to the primary. Then `tandemctl verify` must find the
// replicas identical, and so must a direct comparison of the two backing files. Negative control:
// garbage written straight into the peer's backing file makes verify report that region (exit 3).
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster, tandemctl } from '../helpers/cluster.js';
import type { LogLine } from '../helpers/daemon.js';
import { read16, type ScsiResult, write16 } from '../helpers/initiator/index.js';
import { describeResult, MultipathClient } from '../helpers/multipath.js';
import { explain, type RunResult } from '../helpers/tools.js';
import { Status as ScsiStatus, SenseKey } from '../helpers/wire.js';

const BLOCK = 512;
const MiB = 1 << 20;
const REGION = MiB;
/** The contended range: LBAs 0..255 (128 KiB, inside region 0). */
const LBAS = 256;
const DEPTH = 4;
const RUN_MS = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** COMPARE AND WRITE (SBC-3 5.2): data-out is `blocks` to compare then `blocks` to write. */
function compareAndWrite(lba: number, blocks: number): Buffer {
  const cdb = Buffer.alloc(16);
  cdb[0] = 0x89;
  cdb.writeBigUInt64BE(BigInt(lba), 2);
  cdb[13] = blocks;
  return cdb;
}

/** UNMAP (SBC-3 5.28) with one block descriptor, and its parameter list. */
function unmap(lba: number, blocks: number): { cdb: Buffer; params: Buffer } {
  const params = Buffer.alloc(8 + 16);
  params.writeUInt16BE(6 + 16, 0);
  params.writeUInt16BE(16, 2);
  params.writeBigUInt64BE(BigInt(lba), 8);
  params.writeUInt32BE(blocks, 16);
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x42;
  cdb.writeUInt16BE(params.length, 7);
  return { cdb, params };
}

const tctl = (endpoint: string, args: string[], timeoutMs = 120_000): Promise<RunResult> =>
  tandemctl(endpoint, ['--json', ...args], timeoutMs);

interface VerifyJson {
  regions: number;
  regionSize: number;
  differing: Array<{ node: string; offset: number | string; length: number | string }>;
}

const rand = (n: number) => Math.floor(Math.random() * n);

describe('replicated volume: concurrent overlapping WRITE / COMPARE AND WRITE / UNMAP keep replicas identical', () => {
  let cluster: Cluster;
  let viaPrimary: MultipathClient;
  let viaPeer: MultipathClient;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, kind: 'replicated', size: '64M' });
    const connect = (who: string) =>
      MultipathClient.connect({
        paths: cluster.paths(),
        target: cluster.target,
        initiatorName: `iqn.2026-11.org.tandem.test:divergence-${who}`,
        commandTimeoutMs: 5000,
        retryWindowMs: 20_000,
      });
    viaPrimary = await connect('one');
    viaPeer = await connect('two');
  });

  afterAll(async () => {
    await viaPrimary?.close();
    await viaPeer?.close();
    await cluster?.destroy();
  });

  it('verify finds the replicas identical after the storm, and finds a corrupted peer region', async () => {
    const [a, b] = cluster.names as [string, string];
    const deadline = Date.now() + 60_000;
    const inSync = (logs: LogLine[]) =>
      logs.some((l) => l.msg === 'resync done: peer in sync' && l.peer === b);
    while (Date.now() < deadline) {
      await viaPrimary.refresh();
      await viaPeer.refresh();
      if (
        viaPrimary.state(a) === 'active-optimized' &&
        viaPrimary.state(b) === 'active-non-optimized' &&
        viaPeer.state(b) === 'active-non-optimized' &&
        inSync(cluster.node(a).logs())
      )
        break;
      await sleep(200);
    }
    expect(viaPrimary.describeStates()).toMatch(/A\/O/);
    expect(viaPeer.state(b)).toBe('active-non-optimized');

    // Seed the range so COMPARE AND WRITE has something known to compare with.
    const seed = Buffer.alloc(LBAS * BLOCK, 0x11);
    expect(describeResult((await viaPrimary.write(0, seed)).result)).toBe('GOOD');

    const counts: Record<string, number> = {};
    const unexpected: string[] = [];
    const note = (client: string, path: string, op: string, r: ScsiResult) => {
      const miscompare = r.status === ScsiStatus.CHECK_CONDITION && r.sense?.key === SenseKey.MISCOMPARE;
      const outcome = r.status === ScsiStatus.GOOD ? 'GOOD' : miscompare ? 'MISCOMPARE' : describeResult(r);
      const key = `${client}@${path} ${op} ${outcome}`;
      counts[key] = (counts[key] ?? 0) + 1;
      if (outcome !== 'GOOD' && !(op === 'CAW' && miscompare)) unexpected.push(key);
    };

    let stop = false;
    /** One in-flight command at a time per worker; DEPTH workers per initiator. */
    const worker = async (client: 'one' | 'two', w: number) => {
      const mp = client === 'one' ? viaPrimary : viaPeer;
      // Initiator two goes only through the A/NO peer, so every command is forwarded.
      const exec = async (cdb: Buffer, op: string, opts: { dataOut?: Buffer; expectedDataIn?: number }) => {
        if (client === 'two') return { result: await mp.executeOn(b, cdb, { op, ...opts }), path: b };
        const r = await mp.execute(cdb, { op, ...opts });
        return { result: r.result, path: r.path };
      };
      for (let seq = 0; !stop; seq++) {
        const blocks = 1 + rand(32);
        const lba = rand(LBAS - blocks + 1);
        const fill = (client === 'one' ? 0x40 : 0x80) | ((w * 8 + seq) & 0x3f);
        const kind = rand(10);
        if (kind < 5) {
          const data = Buffer.alloc(blocks * BLOCK, fill);
          data.writeUInt32BE(seq, 0);
          const r = await exec(write16(lba, blocks), 'WRITE', { dataOut: data });
          note(client, r.path, 'WRITE', r.result);
        } else if (kind < 8) {
          // Compare with what was there a moment ago: races make some of these miscompare.
          const n = Math.min(blocks, 8);
          const cur = await exec(read16(lba, n), 'READ', { expectedDataIn: n * BLOCK });
          if (cur.result.status !== ScsiStatus.GOOD) {
            note(client, cur.path, 'READ', cur.result);
            continue;
          }
          const data = Buffer.concat([cur.result.data, Buffer.alloc(n * BLOCK, fill)]);
          const r = await exec(compareAndWrite(lba, n), 'CAW', { dataOut: data });
          note(client, r.path, 'CAW', r.result);
        } else {
          const { cdb, params } = unmap(lba, blocks);
          const r = await exec(cdb, 'UNMAP', { dataOut: params });
          note(client, r.path, 'UNMAP', r.result);
        }
      }
    };
    const workers = [
      ...Array.from({ length: DEPTH }, (_, w) => worker('one', w)),
      ...Array.from({ length: DEPTH }, (_, w) => worker('two', w)),
    ];
    await sleep(RUN_MS);
    stop = true;
    await Promise.all(workers);
    const total = Object.values(counts).reduce((s, n) => s + n, 0);
    console.log(
      `divergence storm: ${total} commands in ${RUN_MS} ms on LBAs 0..${LBAS - 1}: ${Object.entries(counts)
        .sort()
        .map(([k, n]) => `${k}: ${n}`)
        .join(', ')}`,
    );
    expect(unexpected.slice(0, 10), 'commands that failed').toEqual([]);
    for (const [client, path] of [
      ['one', a],
      ['two', b],
    ] as const) {
      for (const op of ['WRITE', 'CAW', 'UNMAP'])
        expect(counts[`${client}@${path} ${op} GOOD`] ?? 0, `${client}@${path} ${op} GOOD`).toBeGreaterThan(
          5,
        );
    }

    // The replicas are identical: by tandemctl verify (through the peer's admin endpoint, which
    // hands it to the primary) and by comparing the backing files themselves.
    const v = await tctl(cluster.node(b).admin!, ['verify', 'vol0']);
    expect(v.code, explain(v)).toBe(0);
    const ok = JSON.parse(v.stdout) as VerifyJson;
    expect(ok.differing).toEqual([]);
    expect(Number(ok.regions)).toBe(64);
    const imgA = path.join(cluster.dir, a, 'vol0.img');
    const imgB = path.join(cluster.dir, b, 'vol0.img');
    const [fa, fb] = await Promise.all([readFile(imgA), readFile(imgB)]);
    const head = LBAS * BLOCK;
    expect(fa.subarray(0, head).equals(fb.subarray(0, head)), 'the contended range differs on disk').toBe(
      true,
    );

    // Negative control: garbage straight into b's file, inside region 40, while b runs.
    const offset = 40 * REGION + 12_345;
    const fh = await open(imgB, 'r+');
    try {
      await fh.write(Buffer.alloc(4096, 0xee), 0, 4096, offset);
      await fh.sync();
    } finally {
      await fh.close();
    }
    const bad = await tctl(cluster.node(a).admin!, ['verify', 'vol0']);
    expect(bad.code, explain(bad)).toBe(3);
    const diff = JSON.parse(bad.stdout) as VerifyJson;
    expect(
      diff.differing.map((d) => ({ node: d.node, offset: Number(d.offset), length: Number(d.length) })),
    ).toEqual([{ node: b, offset: 40 * REGION, length: REGION }]);
  }, 180_000);
});
