// Issue 15, check 3: a replicated volume grown online while a writer runs. Every node's portal
// reports CAPACITY DATA HAS CHANGED (06h/2Ah/09h) to its logged-in nexus and then the new
// READ CAPACITY(16); every replica's store grew durably before the primary reported it (the
// nodes' logs: each copy's "resize prepared" before the primary's "resize committed"); data
// below and above the old end verifies on every replica (`tandemctl verify`); and a resize
// whose primary is SIGKILLed right after it was asked for comes back consistent: the survivor
// finishes it, the killed node grows when it returns, and verify finds no difference.
//
// Sizes are parameters (defaults 64 MiB → 128 MiB → 192 MiB to keep it quick on a loaded
// machine): TANDEM_RESIZE_FROM=1G TANDEM_RESIZE_TO=2G TANDEM_RESIZE_AGAIN=3G run the issue's sizes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSize } from '../../src/util/size.js';
import {
  type Cluster,
  pollFor,
  startCluster,
  tandemctl,
  waitAllUsable,
  waitPathState,
  waitPrimaryAndPeer,
} from '../helpers/cluster.js';
import type { LogLine } from '../helpers/daemon.js';
import { parseReadCapacity16, readCapacity16 } from '../helpers/initiator/index.js';
import { MultipathClient, senseString } from '../helpers/multipath.js';
import { explain } from '../helpers/tools.js';
import { Status as ScsiStatus } from '../helpers/wire.js';
import { StampedWriters } from '../helpers/write-log.js';

const FROM = process.env.TANDEM_RESIZE_FROM ?? '64M';
const TO = process.env.TANDEM_RESIZE_TO ?? '128M';
const AGAIN = process.env.TANDEM_RESIZE_AGAIN ?? '192M';
const MiB = 1 << 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const capacity = (d: Buffer) => {
  const c = parseReadCapacity16(d);
  return Number(c.lastLba + 1n) * c.blockLength;
};

const waitFor = <T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined) =>
  pollFor(what, ms, probe, 100);

const logged = (logs: LogLine[], msg: string, to: number) =>
  logs.filter((l) => l.msg === msg && Number(l.to) === to);

describe('replicated volume: online resize under load', () => {
  let cluster: Cluster;
  let mp: MultipathClient;
  const from = parseSize(FROM);
  const to = parseSize(TO);
  const again = parseSize(AGAIN);

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, kind: 'replicated', size: FROM, ttl: 5 });
    mp = await MultipathClient.connect({
      paths: cluster.paths(),
      target: cluster.target,
      initiatorName: 'iqn.2026-11.org.tandem.test:replicated-resize',
      commandTimeoutMs: 3000,
      retryWindowMs: 40_000,
    });
  });

  afterAll(async () => {
    await mp?.close();
    await cluster?.destroy();
  });

  /** Polls READ CAPACITY(16) through `node`'s own session until it reports `bytes`. */
  async function capacityThrough(
    node: string,
    bytes: number,
    since = 0,
  ): Promise<{ sawUa: boolean; ms: number }> {
    const t0 = performance.now();
    let sawUa = false;
    await waitFor(`READ CAPACITY ${bytes} through ${node}`, 30_000, async () => {
      const s = mp.session(node);
      if (!s) {
        await mp.refresh().catch(() => undefined);
        return undefined;
      }
      const r = await s.scsi(0, readCapacity16(), { expectedDataIn: 32 }).catch(() => undefined);
      if (!r) return undefined;
      if (r.status === ScsiStatus.CHECK_CONDITION && senseString(r.sense) === '06h/2Ah/09h') sawUa = true;
      return r.status === ScsiStatus.GOOD && capacity(r.data) === bytes ? true : undefined;
    });
    // The writers' commands on the same nexus may have taken the UA first: the client records it.
    const viaWriters = mp.unitAttentions.some(
      (u) => u.path === node && u.asc === 0x2a && u.ascq === 0x09 && u.at >= since,
    );
    return { sawUa: sawUa || viaWriters, ms: Math.round(performance.now() - t0) };
  }

  async function verify(endpoint: string): Promise<{ regions: number; differing: unknown[] }> {
    const v = await tandemctl(endpoint, ['--json', 'verify', 'vol0'], 180_000);
    expect(v.code, explain(v)).toBe(0);
    return JSON.parse(v.stdout) as { regions: number; differing: unknown[] };
  }

  it('grows on every copy before any path reports it; 06h/2Ah/09h and the new capacity on every path; verify clean', async () => {
    const { primary, peer } = await waitPrimaryAndPeer(cluster, mp, 60_000, 100);
    // Read the capacity once through each path (the nexus is known, no UA pending).
    for (const n of cluster.names) await capacityThrough(n, from);
    const below = new StampedWriters(mp, { writers: 4, slotsPerWriter: 32 });
    below.start();
    await sleep(500);
    const t0 = performance.now();
    const r = await tandemctl(cluster.node(primary).admin!, ['volume', 'resize', 'vol0', '--size', TO]);
    expect(r.code, explain(r)).toBe(0);
    const seen = new Map<string, { sawUa: boolean; ms: number }>();
    for (const n of cluster.names) seen.set(n, await capacityThrough(n, to, t0));
    const grownMs = Math.round(performance.now() - t0);
    for (const n of cluster.names) expect(seen.get(n)!.sawUa, `06h/2Ah/09h through ${n}`).toBe(true);
    // Every copy prepared (store and bitmap grown durably) before the primary committed.
    const committed = logged(
      cluster.node(primary).logs(),
      'resize committed: the LU reports the new capacity',
      to,
    );
    expect(committed.length, 'the primary committed once').toBe(1);
    for (const n of cluster.names) {
      const prepared = logged(cluster.node(n).logs(), 'resize prepared: store and bitmap grown durably', to);
      expect(prepared.length, `${n} prepared`).toBeGreaterThanOrEqual(1);
      expect(prepared[0]!.time).toBeLessThanOrEqual(committed[0]!.time);
    }
    // Writes past the old end, through both paths, while the first writer goes on.
    const above = new StampedWriters(mp, { writers: 2, slotsPerWriter: 32, baseLba: (from + 8 * MiB) / 512 });
    above.start();
    await sleep(1500);
    await Promise.all([below.stop(), above.stop()]);
    const vb = await below.verify();
    const va = await above.verify();
    expect(vb.problems, vb.problems.slice(0, 5).join('\n')).toEqual([]);
    expect(va.problems, va.problems.slice(0, 5).join('\n')).toEqual([]);
    expect(va.checked).toBeGreaterThan(0);
    // Every replica identical, through the peer's endpoint too (it hands verify to the primary).
    const v = await verify(cluster.node(peer).admin!);
    expect(v.differing).toEqual([]);
    expect(Number(v.regions)).toBe(to / MiB);
    console.log(
      `resize ${FROM} → ${TO} under load: every path reported the new capacity within ${grownMs} ms ` +
        `(${[...seen].map(([n, s]) => `${n}: ${s.ms} ms, UA ${s.sawUa}`).join('; ')}); ` +
        `${below.acks.length} writes below and ${above.acks.length} above the old end acknowledged, ` +
        `${vb.checked + va.checked} slots read back; verify: ${v.regions} regions identical`,
    );
  }, 180_000);

  it('a primary SIGKILLed right after a resize was asked for: the survivor finishes it, the node returns grown, verify clean', async () => {
    const primary = await waitAllUsable(mp, 60_000);
    const peer = cluster.names.find((n) => n !== primary)!;
    const writers = new StampedWriters(mp, { writers: 4, slotsPerWriter: 32, baseLba: (to - 4 * MiB) / 512 });
    writers.start();
    await sleep(500);
    // Mid-resize for sure: the peer is frozen, so the primary's prepare waits for it; the
    // primary is SIGKILLed once its own store and bitmap have grown (prepared, not committed).
    // The peer is frozen before the resize is asked for (a configuration change, answered before
    // the resize runs): frozen after, a quick primary could prepare both and commit first.
    const peerPid = cluster.node(peer).pid;
    process.kill(peerPid, 'SIGSTOP');
    const t0 = performance.now();
    try {
      const r = await tandemctl(cluster.node(primary).admin!, ['volume', 'resize', 'vol0', '--size', AGAIN]);
      expect(r.code, explain(r)).toBe(0);
      await waitFor('the primary prepared', 20_000, () =>
        logged(cluster.node(primary).logs(), 'resize prepared: store and bitmap grown durably', again)
          .length > 0
          ? true
          : undefined,
      );
      expect(
        logged(cluster.node(primary).logs(), 'resize committed: the LU reports the new capacity', again),
        'the primary committed before the peer prepared',
      ).toEqual([]);
      await cluster.kill(primary);
    } finally {
      process.kill(peerPid, 'SIGCONT');
    }
    const tKill = performance.now();
    const s = await capacityThrough(peer, again, t0);
    const takeoverMs = Math.round(performance.now() - tKill);
    await cluster.start(primary);
    await waitPathState(mp, primary, 'active-non-optimized', 'the returned node in sync', 90_000, 100);
    const back = await capacityThrough(primary, again, tKill);
    await writers.stop();
    const w = await writers.verify();
    expect(w.problems, w.problems.slice(0, 5).join('\n')).toEqual([]);
    const v = await verify(cluster.node(peer).admin!);
    expect(v.differing).toEqual([]);
    expect(Number(v.regions)).toBe(again / MiB);
    const prepared = logged(
      cluster.node(primary).logs(),
      'resize prepared: store and bitmap grown durably',
      again,
    );
    console.log(
      `resize ${TO} → ${AGAIN} with the primary ${primary} SIGKILLed at once: ${peer} reported ${AGAIN} ` +
        `${takeoverMs} ms after the kill (UA ${s.sawUa}); ${primary} came back reporting ${AGAIN} (UA ${back.sawUa}), ` +
        `prepared ${prepared.length} time(s); ${w.checked} slots read back; verify: ${v.regions} regions identical`,
    );
  }, 240_000);
});

describe('replicated volume: online resize of a three-way volume', () => {
  let cluster: Cluster;
  let mp: MultipathClient;
  const from = parseSize(FROM);
  const to = parseSize(TO);

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, kind: 'replicated', size: FROM, ttl: 5 });
    mp = await MultipathClient.connect({
      paths: cluster.paths(),
      target: cluster.target,
      initiatorName: 'iqn.2026-11.org.tandem.test:replicated-resize-3',
      commandTimeoutMs: 3000,
      retryWindowMs: 40_000,
    });
  });

  afterAll(async () => {
    await mp?.close();
    await cluster?.destroy();
  });

  it('every copy prepares before the primary commits; all three paths report 06h/2Ah/09h and the new capacity', async () => {
    const primary = await waitAllUsable(mp, 90_000);
    const writers = new StampedWriters(mp, { writers: 4, slotsPerWriter: 32 });
    writers.start();
    await sleep(500);
    const t0 = performance.now();
    const r = await tandemctl(cluster.node(primary).admin!, ['volume', 'resize', 'vol0', '--size', TO]);
    expect(r.code, explain(r)).toBe(0);
    const seen: string[] = [];
    for (const n of cluster.names) {
      let sawUa = false;
      await waitFor(`READ CAPACITY ${to} through ${n}`, 30_000, async () => {
        const s = mp.session(n);
        const res = s
          ? await s.scsi(0, readCapacity16(), { expectedDataIn: 32 }).catch(() => undefined)
          : undefined;
        if (!res) return undefined;
        if (res.status === ScsiStatus.CHECK_CONDITION && senseString(res.sense) === '06h/2Ah/09h')
          sawUa = true;
        return res.status === ScsiStatus.GOOD && capacity(res.data) === to ? true : undefined;
      });
      sawUa ||= mp.unitAttentions.some(
        (u) => u.path === n && u.asc === 0x2a && u.ascq === 0x09 && u.at >= t0,
      );
      expect(sawUa, `06h/2Ah/09h through ${n}`).toBe(true);
      seen.push(n);
    }
    const allMs = Math.round(performance.now() - t0);
    const committed = logged(
      cluster.node(primary).logs(),
      'resize committed: the LU reports the new capacity',
      to,
    );
    expect(committed.length).toBe(1);
    for (const n of cluster.names) {
      const prepared = logged(cluster.node(n).logs(), 'resize prepared: store and bitmap grown durably', to);
      expect(prepared.length, `${n} prepared`).toBeGreaterThanOrEqual(1);
      expect(prepared[0]!.time).toBeLessThanOrEqual(committed[0]!.time);
    }
    const above = new StampedWriters(mp, { writers: 2, slotsPerWriter: 32, baseLba: (from + 4 * MiB) / 512 });
    above.start();
    await sleep(1000);
    await Promise.all([writers.stop(), above.stop()]);
    for (const w of [writers, above]) {
      const res = await w.verify();
      expect(res.problems, res.problems.slice(0, 5).join('\n')).toEqual([]);
    }
    const v = await tandemctl(cluster.node(primary).admin!, ['--json', 'verify', 'vol0'], 180_000);
    expect(v.code, explain(v)).toBe(0);
    const res = JSON.parse(v.stdout) as { regions: number; differing: unknown[] };
    expect(res.differing).toEqual([]);
    // Compared with both peers (the primary's log names them).
    const compared = cluster
      .node(primary)
      .logs()
      .filter((l) => l.msg === 'verify done')
      .at(-1)?.nodes as string[] | undefined;
    expect(compared?.length, 'verify compared both peers').toBe(2);
    expect(Number(res.regions)).toBe(to / MiB);
    console.log(
      `three-way resize ${FROM} → ${TO}: ${seen.length} paths reported it with 06h/2Ah/09h within ` +
        `${allMs} ms; verify: ${res.regions} regions identical on ${[primary, ...(compared ?? [])].join(', ')}`,
    );
  }, 180_000);
});
