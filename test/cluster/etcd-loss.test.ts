// Issue #4, check 4 (DESIGN.md safety rule 4, self-fencing): when etcd stops answering (SIGSTOP),
// the primary stops executing writes before its lease can expire on the etcd side, so two nodes
// never execute writes for the same volume at once. Two writers, one per node, write without
// pause and log every write's start, end and outcome; the log must show every acknowledged
// write ending before SIGSTOP + lease TTL or starting after SIGCONT, and after SIGCONT exactly
// one node is Active/Optimized and writes work again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, leadership, startCluster } from '../helpers/cluster.js';
import { write16 } from '../helpers/initiator/index.js';
import { describeResult, type IoRecord, MultipathClient } from '../helpers/multipath.js';

const TTL_S = 5;
const BLOCK = 512;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per path, runs of equal outcomes: `a: GOOD x120 [+0..+1500 ms]; CHECK CONDITION 02h/04h/0Ch x3 [...]`. */
function runs(io: IoRecord[], t0: number): string {
  const byPath = new Map<string, string[]>();
  let prev: { path: string; what: string; n: number; from: number; to: number } | undefined;
  const flush = () => {
    if (!prev) return;
    const list = byPath.get(prev.path) ?? [];
    list.push(`${prev.what} x${prev.n} [+${Math.round(prev.from - t0)}..+${Math.round(prev.to - t0)} ms]`);
    byPath.set(prev.path, list);
  };
  for (const path of [...new Set(io.map((r) => r.path))].sort()) {
    prev = undefined;
    for (const r of io.filter((x) => x.path === path)) {
      const what = r.error
        ? r.error.split(':')[0]!
        : describeResult({ status: r.status ?? -1, sense: r.sense });
      if (prev && prev.what === what) {
        prev.n++;
        prev.to = r.end;
      } else {
        flush();
        prev = { path, what, n: 1, from: r.end, to: r.end };
      }
    }
    flush();
  }
  return [...byPath].map(([p, l]) => `  ${p}: ${l.join('; ')}`).join('\n');
}

describe('etcd lost (SIGSTOP): the primary fences itself before its lease can expire', () => {
  let cluster: Cluster;
  let mp: MultipathClient;
  let stop = false;
  const writers: Promise<void>[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, ttl: TTL_S });
    mp = await MultipathClient.connect({
      paths: cluster.paths(),
      target: cluster.target,
      initiatorName: 'iqn.2026-11.org.tandem.test:etcd-loss',
      commandTimeoutMs: 1500,
      connectTimeoutMs: 1500,
    });
  });

  afterAll(async () => {
    stop = true;
    await Promise.allSettled(writers);
    await mp?.close();
    await cluster?.destroy();
  });

  /** Writes one block after another through one path (no failover), each tagged with the path. */
  async function writer(path: string, base: number): Promise<void> {
    for (let i = 0; !stop; i++) {
      const data = Buffer.alloc(BLOCK, i & 0xff);
      let ok = false;
      try {
        const r = await mp.executeOn(path, write16(base + (i % 64), 1), {
          dataOut: data,
          op: 'WRITE',
          lba: base + (i % 64),
          blocks: 1,
          tag: path,
        });
        ok = r.status === 0;
      } catch {
        // recorded in mp.io; the next executeOn logs in again
      }
      if (!ok) await sleep(25);
    }
  }

  it('no write is acknowledged between SIGSTOP + TTL and SIGCONT; afterwards exactly one node is A/O and writes work', async () => {
    const [a, b] = cluster.names as [string, string];
    const primary = mp.paths.find((p) => p.state === 'active-optimized')?.name;
    expect(primary, mp.describeStates()).toBeDefined();
    const t0 = performance.now();
    writers.push(writer(a, 0), writer(b, 1000));
    await sleep(1500);

    const tStop = cluster.stopEtcd();
    await sleep(TTL_S * 1000 + 2500);
    const tCont = cluster.contEtcd();

    // Writes come back once one node holds the lease again.
    const deadline = performance.now() + 20_000;
    while (!mp.io.some((r) => r.op === 'WRITE' && r.outcome === 'good' && r.start > tCont)) {
      if (performance.now() > deadline) break;
      await sleep(100);
    }
    await sleep(1500);
    stop = true;
    await Promise.allSettled(writers);

    const writes = mp.io.filter((r) => r.op === 'WRITE');
    const good = writes.filter((r) => r.outcome === 'good');
    const report = `SIGSTOP at +${Math.round(tStop - t0)} ms, SIGCONT at +${Math.round(tCont - t0)} ms, lease TTL ${TTL_S} s\n${runs(writes, t0)}`;

    // Both paths wrote before etcd stopped (the A/NO node forwarding to the primary).
    for (const p of [a, b])
      expect(
        good.some((r) => r.path === p && r.end < tStop),
        `GOOD writes through ${p} before SIGSTOP\n${report}`,
      ).toBe(true);

    // The primary stopped executing writes before its lease could expire: the lease was last
    // renewed at or before SIGSTOP, so it expires no later than SIGSTOP + TTL on etcd's side.
    const during = good.filter((r) => r.end > tStop && r.start < tCont);
    const lastGood = Math.max(tStop, ...during.map((r) => r.end));
    console.log(
      `etcd-loss: last write acknowledged ${Math.round(lastGood - tStop)} ms after SIGSTOP ` +
        `(lease TTL ${TTL_S * 1000} ms); writes resumed ${Math.round(
          Math.min(...good.filter((r) => r.start > tCont).map((r) => r.end)) - tCont,
        )} ms after SIGCONT\n${report}`,
    );
    expect(lastGood - tStop, `last GOOD write after SIGSTOP, ms\n${report}`).toBeLessThan(TTL_S * 1000);
    const late = good.filter((r) => r.end >= tStop + TTL_S * 1000 && r.start <= tCont);
    expect(
      late.map(
        (r) => `${r.path} WRITE started +${Math.round(r.start - t0)} ended +${Math.round(r.end - t0)} ms`,
      ),
      `writes acknowledged while a lease may have expired\n${report}`,
    ).toEqual([]);

    // The nodes' own account (their logs): leadership intervals of different nodes never
    // overlap; every fence came before the lease could expire; and every acknowledged write
    // overlaps some node's leadership (no write executed while nobody held the lease).
    const leads = leadership(cluster, 'vol0');
    const t0Wall = Date.now() - (performance.now() - t0);
    const leadsText = leads
      .map(
        (l) =>
          `  ${l.node}: +${Math.round(l.from - t0Wall)} .. +${Math.round(l.to - t0Wall)} ms, then ${l.end}`,
      )
      .join('\n');
    console.log(
      `etcd-loss: leadership of vol0 from the node logs (times since the writers started):\n${leadsText}`,
    );
    expect(leads.length, `election transitions in the node logs\n${leadsText}`).toBeGreaterThanOrEqual(1);
    for (const x of leads)
      for (const y of leads)
        if (x !== y && x.node !== y.node)
          expect(x.to <= y.from || y.to <= x.from, `overlapping leadership\n${leadsText}`).toBe(true);
    const fences = cluster.nodes.flatMap((n) =>
      n.logs().filter((l) => typeof l.msg === 'string' && /^session: .* -> FENCED/.test(l.msg)),
    );
    for (const f of fences)
      expect(
        Number(f.sinceLastConfirmedMs),
        `fenced ${String(f.sinceLastConfirmedMs)} ms after the last keep-alive`,
      ).toBeLessThan(TTL_S * 1000);
    const orphans = good.filter((r) => {
      const ws = r.wall;
      const we = r.wall + (r.end - r.start);
      return !leads.some((l) => l.from <= we + 5 && l.to >= ws - 5);
    });
    expect(
      orphans.map((r) => `${r.path} WRITE acknowledged at +${Math.round(r.end - t0)} ms`),
      `writes acknowledged while no node was leader\n${leadsText}`,
    ).toEqual([]);

    // After SIGCONT: writes work again, and the nodes agree on exactly one A/O group.
    expect(
      good.some((r) => r.start > tCont),
      `a GOOD write after SIGCONT\n${report}`,
    ).toBe(true);
    await mp.refresh();
    const viaA = await mp.rtpg(a, 'extended');
    const viaB = await mp.rtpg(b, 'extended');
    expect(viaB.raw.toString('hex'), 'RTPG through both nodes after SIGCONT').toBe(viaA.raw.toString('hex'));
    const optimized = viaA.data.groups.filter((g) => g.state === 'active-optimized');
    expect(optimized, `exactly one A/O group after SIGCONT: ${mp.describeStates()}`).toHaveLength(1);
    const owner = mp.paths.find((p) => p.targetPortGroupId === optimized[0]!.targetPortGroupId)!.name;
    const w = await mp.executeOn(owner, write16(5000, 1), {
      dataOut: Buffer.alloc(BLOCK, 0xee),
      op: 'WRITE',
    });
    expect(describeResult(w), `WRITE through the new primary ${owner}`).toBe('GOOD');
  }, 90_000);
});
