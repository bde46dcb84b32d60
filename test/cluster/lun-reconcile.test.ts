// Issue #4, configuration: "a LUN added or removed on a live cluster appears or disappears on
// every node, with REPORTED LUNS DATA HAS CHANGED, and I/O to the other LUNs continues
// undisturbed". One session per node does verified WRITE+READ on LUN 0 the whole time (a unit
// attention is retried, as an initiator does); LUN 1 is added and removed by writing the
// configuration into etcd, then LUNs 1..8 are mapped and unmapped a few times. No LUN 0 command
// may fail; the LUN 0 latency before vs during the churn is printed (not asserted).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../helpers/cluster.js';
import {
  type IscsiInitiator,
  parseReportLuns,
  read16,
  reportLuns,
  write16,
} from '../helpers/initiator/index.js';
import { describeResult, openSession, type SenseTriple } from '../helpers/multipath.js';
import { Status as ScsiStatus, SenseKey } from '../helpers/wire.js';

const BLOCK = 512;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isUa = (s?: SenseTriple) => s?.key === SenseKey.UNIT_ATTENTION;
const isLunsChanged = (s?: SenseTriple) => isUa(s) && s!.asc === 0x3f && s!.ascq === 0x0e;

interface Sample {
  at: number;
  ms: number;
}

/** One I_T nexus through one node doing verified WRITE+READ on LUN 0 in its own LBA range. */
class Lun0Worker {
  readonly latencies: Sample[] = [];
  readonly unitAttentions: Array<SenseTriple & { at: number; op: string }> = [];
  readonly failures: string[] = [];
  #running = true;
  #done: Promise<void> | undefined;

  constructor(
    readonly node: string,
    readonly session: IscsiInitiator,
    readonly lbaBase: number,
  ) {}

  start(): void {
    this.#done = this.#loop();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  /** A command, retried on UNIT ATTENTION (recorded) like an initiator does; latency recorded. */
  async #cmd(op: string, cdb: Buffer, opts: { dataOut?: Buffer; expectedDataIn?: number }) {
    const t0 = performance.now();
    for (let attempt = 0; ; attempt++) {
      const r = await this.session.scsi(0, cdb, opts);
      if (r.status === ScsiStatus.CHECK_CONDITION && isUa(r.sense) && attempt < 8) {
        this.unitAttentions.push({
          key: r.sense!.key,
          asc: r.sense!.asc,
          ascq: r.sense!.ascq,
          at: performance.now(),
          op,
        });
        continue;
      }
      const end = performance.now();
      this.latencies.push({ at: end, ms: end - t0 });
      return r;
    }
  }

  async #loop(): Promise<void> {
    let i = 0;
    while (this.#running) {
      const lba = this.lbaBase + (i++ % 64) * 8;
      const data = randomBytes(8 * BLOCK);
      try {
        const w = await this.#cmd('WRITE', write16(lba, 8), { dataOut: data });
        if (w.status !== ScsiStatus.GOOD) {
          this.failures.push(`${this.node}: WRITE(16) LBA ${lba}: ${describeResult(w)}`);
          continue;
        }
        const r = await this.#cmd('READ', read16(lba, 8), { expectedDataIn: data.length });
        if (r.status !== ScsiStatus.GOOD)
          this.failures.push(`${this.node}: READ(16) LBA ${lba}: ${describeResult(r)}`);
        else if (!r.data.equals(data)) this.failures.push(`${this.node}: READ(16) LBA ${lba}: data differs`);
      } catch (err) {
        this.failures.push(`${this.node}: LBA ${lba}: ${(err as Error).message}`);
        await sleep(50);
      }
    }
  }

  sawLunsChangedSince(t: number): boolean {
    return this.unitAttentions.some((u) => u.at >= t && isLunsChanged(u));
  }
}

function stats(samples: Sample[]): string {
  const v = samples.map((s) => s.ms).sort((a, b) => a - b);
  if (v.length === 0) return 'no samples';
  const q = (p: number) => v[Math.min(v.length - 1, Math.floor(p * v.length))]!;
  return `n=${v.length} p50=${q(0.5).toFixed(2)} ms p99=${q(0.99).toFixed(2)} ms max=${v.at(-1)!.toFixed(2)} ms`;
}

describe('LUN add/remove on a live two-node cluster (configuration in etcd)', () => {
  let cluster: Cluster;
  let etcd: Etcd3;
  let prefix: string;
  /** Per node: a session that only asks REPORT LUNS and probes LUN 1 (its own I_T nexus). */
  const probes = new Map<string, IscsiInitiator>();
  const workers: Lun0Worker[] = [];
  let churnStart = 0;
  let churnEnd = 0;

  const volumeId = (lun: number) => `vol-lun${lun}`;
  const lunKey = (lun: number) => `${prefix}config/luns/${encodeURIComponent(`${cluster.target},${lun}`)}`;
  const volumeKey = (lun: number) => `${prefix}config/volumes/${encodeURIComponent(volumeId(lun))}`;

  async function addLun(lun: number): Promise<void> {
    const vol = {
      id: volumeId(lun),
      kind: 'shared',
      size: '16M',
      blockSize: BLOCK,
      path: path.join(cluster.dir, 'shared', `${volumeId(lun)}.img`),
      standby: false,
      readOnly: false,
    };
    await etcd.put(volumeKey(lun)).value(JSON.stringify(vol));
    await etcd.put(lunKey(lun)).value(JSON.stringify({ target: cluster.target, lun, volume: vol.id }));
  }

  async function removeLun(lun: number): Promise<void> {
    await etcd.delete().key(lunKey(lun));
    await etcd.delete().key(volumeKey(lun));
  }

  async function luns(node: string): Promise<number[]> {
    const r = await probes.get(node)!.scsi(0, reportLuns(), { expectedDataIn: 4096 });
    if (r.status !== ScsiStatus.GOOD) throw new Error(`REPORT LUNS through ${node}: ${describeResult(r)}`);
    return parseReportLuns(r.data);
  }

  /** Polls REPORT LUNS through every node until each lists exactly `want`; returns the ms it took. */
  async function waitForLuns(want: number[], limitMs: number): Promise<number> {
    const t0 = performance.now();
    const seen: Record<string, number[]> = {};
    for (;;) {
      let all = true;
      for (const n of cluster.names) {
        seen[n] = await luns(n);
        if (seen[n]!.join(',') !== want.join(',')) all = false;
      }
      if (all) return performance.now() - t0;
      if (performance.now() - t0 > limitMs)
        throw new Error(`REPORT LUNS after ${limitMs} ms: ${JSON.stringify(seen)}, want [${want.join(',')}]`);
      await sleep(25);
    }
  }

  /** A command on LUN 1 through `node`, retrying unit attentions and Transitioning for a while. */
  async function lun1(node: string, cdb: Buffer, opts: { dataOut?: Buffer; expectedDataIn?: number }) {
    const deadline = performance.now() + 10_000;
    for (;;) {
      const r = await probes.get(node)!.scsi(1, cdb, opts);
      const retry =
        r.status === ScsiStatus.CHECK_CONDITION &&
        (isUa(r.sense) ||
          (r.sense?.key === SenseKey.NOT_READY && r.sense.asc === 0x04 && r.sense.ascq === 0x0a));
      if (!retry || performance.now() > deadline) return r;
      await sleep(r.sense?.key === SenseKey.NOT_READY ? 50 : 0);
    }
  }

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2 });
    prefix = cluster.info.prefix.endsWith('/') ? cluster.info.prefix : `${cluster.info.prefix}/`;
    etcd = new Etcd3(cluster.etcdOptions());
    for (const [i, node] of cluster.nodes.entries()) {
      const { session: probe } = await openSession({
        host: node.host,
        port: node.port,
        target: cluster.target,
        initiatorName: `iqn.2026-11.org.tandem.test:lun-probe-${node.name}`,
      });
      probes.set(node.name, probe);
      const { session } = await openSession({
        host: node.host,
        port: node.port,
        target: cluster.target,
        initiatorName: `iqn.2026-11.org.tandem.test:lun-io-${node.name}`,
      });
      workers.push(new Lun0Worker(node.name, session, 1024 + i * 4096));
    }
  });

  afterAll(async () => {
    for (const w of workers) {
      await w.stop();
      w.session.close();
    }
    for (const p of probes.values()) p.close();
    etcd?.close();
    await cluster?.destroy();
  });

  it('LUN 0 I/O runs through both nodes; REPORT LUNS lists LUN 0 only', async () => {
    for (const w of workers) w.start();
    await sleep(2000);
    for (const w of workers)
      expect(w.latencies.length, `${w.node}: commands before the churn`).toBeGreaterThan(10);
    expect(workers.flatMap((w) => w.failures)).toEqual([]);
    await waitForLuns([0], 1000);
  });

  it('LUN 1 added: listed through both nodes with REPORTED LUNS DATA HAS CHANGED; I/O works', async () => {
    churnStart = performance.now();
    await addLun(1);
    const took = await waitForLuns([0, 1], 5000);
    console.log(`LUN 1 listed through both nodes ${Math.round(took)} ms after the etcd put`);
    // Each LUN 0 session gets the unit attention on one of its commands.
    const deadline = performance.now() + 5000;
    while (!workers.every((w) => w.sawLunsChangedSince(churnStart)) && performance.now() < deadline)
      await sleep(25);
    for (const w of workers)
      expect(w.sawLunsChangedSince(churnStart), `${w.node}: UA 06h/3Fh/0Eh on LUN 0 after the add`).toBe(
        true,
      );

    const leader = await etcd.get(`${prefix}leaders/${encodeURIComponent(volumeId(1))}`).json();
    const primary = (leader as { node?: string } | null)?.node;
    expect(primary, 'the new volume has a primary').toBeDefined();
    // Through the primary first, then through the other node (forwarded).
    const order = [primary!, ...cluster.names.filter((n) => n !== primary)];
    for (const [i, node] of order.entries()) {
      const data = randomBytes(8 * BLOCK);
      const w = await lun1(node, write16(16 * i, 8), { dataOut: data });
      expect(
        describeResult(w),
        `WRITE(16) to LUN 1 through ${node}${node === primary ? ' (primary)' : ''}`,
      ).toBe('GOOD');
      for (const via of order) {
        const r = await lun1(via, read16(16 * i, 8), { expectedDataIn: data.length });
        expect(describeResult(r), `READ(16) of LUN 1 through ${via}`).toBe('GOOD');
        expect(r.data.equals(data), `LUN 1 data written through ${node}, read through ${via}`).toBe(true);
      }
    }
  });

  it('LUN 1 removed: gone from REPORT LUNS on both nodes with the UA again; LUN 1 commands get 05h/25h/00h', async () => {
    const t0 = performance.now();
    await removeLun(1);
    const took = await waitForLuns([0], 5000);
    console.log(`LUN 1 gone through both nodes ${Math.round(took)} ms after the etcd delete`);
    const deadline = performance.now() + 5000;
    while (!workers.every((w) => w.sawLunsChangedSince(t0)) && performance.now() < deadline) await sleep(25);
    for (const w of workers)
      expect(w.sawLunsChangedSince(t0), `${w.node}: UA 06h/3Fh/0Eh on LUN 0 after the removal`).toBe(true);
    for (const node of cluster.names) {
      // A pending unit attention may come first; then LOGICAL UNIT NOT SUPPORTED.
      let r = await probes.get(node)!.scsi(1, read16(0, 1), { expectedDataIn: BLOCK });
      for (let i = 0; i < 4 && r.status === ScsiStatus.CHECK_CONDITION && isUa(r.sense); i++)
        r = await probes.get(node)!.scsi(1, read16(0, 1), { expectedDataIn: BLOCK });
      expect(describeResult(r), `READ(16) to the removed LUN 1 through ${node}`).toBe(
        'CHECK CONDITION 05h/25h/00h',
      );
      r = await probes.get(node)!.scsi(1, write16(0, 1), { dataOut: Buffer.alloc(BLOCK) });
      expect(describeResult(r), `WRITE(16) to the removed LUN 1 through ${node}`).toBe(
        'CHECK CONDITION 05h/25h/00h',
      );
    }
  });

  it('LUNs 1..8 mapped and unmapped repeatedly; LUN 0 I/O never fails', async () => {
    const all = [1, 2, 3, 4, 5, 6, 7, 8];
    const rounds: string[] = [];
    for (let round = 0; round < 3; round++) {
      const a = performance.now();
      await Promise.all(all.map((l) => addLun(l)));
      const up = await waitForLuns([0, ...all], 10_000);
      await Promise.all(all.map((l) => removeLun(l)));
      const down = await waitForLuns([0], 10_000);
      rounds.push(
        `round ${round}: 8 LUNs listed after ${Math.round(up)} ms, gone after ${Math.round(down)} ms (${Math.round(performance.now() - a)} ms)`,
      );
    }
    churnEnd = performance.now();
    await sleep(500);
    for (const w of workers) await w.stop();

    const lines = [...rounds];
    for (const w of workers) {
      const before = w.latencies.filter((s) => s.at < churnStart);
      const during = w.latencies.filter((s) => s.at >= churnStart && s.at <= churnEnd);
      const uas = new Map<string, number>();
      for (const u of w.unitAttentions) {
        const k = `${describeResult({ status: 2, sense: u })}`;
        uas.set(k, (uas.get(k) ?? 0) + 1);
      }
      lines.push(
        `LUN 0 via ${w.node} before churn: ${stats(before)}`,
        `LUN 0 via ${w.node} during churn (${Math.round(churnEnd - churnStart)} ms): ${stats(during)}`,
        `LUN 0 via ${w.node} unit attentions retried: ${JSON.stringify(Object.fromEntries(uas))}`,
      );
    }
    console.log(lines.join('\n'));
    expect(
      workers.flatMap((w) => w.failures),
      'LUN 0 commands that failed',
    ).toEqual([]);
    for (const w of workers)
      expect(
        w.latencies.filter((s) => s.at >= churnStart && s.at <= churnEnd).length,
        `${w.node}: LUN 0 kept going during the churn`,
      ).toBeGreaterThan(10);
  });

  it('the nodes logged no errors, and no election of a removed volume is left in etcd', async () => {
    await sleep(500);
    const errors = cluster.nodes.flatMap((n) =>
      n
        .logs()
        .filter((l) => Number((l as { level?: number }).level) >= 50)
        .map((l) => `${n.name}: ${JSON.stringify(l)}`),
    );
    expect(errors, 'error log lines').toEqual([]);
    const leaders = Object.keys(await etcd.getAll().prefix(`${prefix}leaders/`).strings());
    expect(
      leaders.filter((k) => k.includes('vol-lun')),
      'leader keys of removed volumes',
    ).toEqual([]);
  });
});
