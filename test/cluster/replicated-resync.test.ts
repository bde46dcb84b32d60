// Issue #5, check 4: a returning peer is resynced from the dirty-region bitmap (DESIGN.md safety
// rule 6), not copied whole. On a 2-node cluster with a 4 GiB replicated volume: the peer is
// SIGKILLed, 64 MiB are written through the primary with qemu-io (four 16 MiB ranges spread over
// the volume, one of them not region-aligned), the peer is started again. The primary's resync
// must cover only the written regions (64 MiB plus rounding, far below 4 GiB); the peer must
// return to Active/Non-optimized; `tandemctl verify` must find the replicas identical; and after
// the primary is killed the old peer, now primary, must serve every written range and zeroes
// elsewhere.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster, TANDEMCTL, tandemctl } from '../helpers/cluster.js';
import type { LogLine } from '../helpers/daemon.js';
import { MultipathClient } from '../helpers/multipath.js';
import { explain, qemuIo, type RunResult, requireTools } from '../helpers/tools.js';

const MiB = 1 << 20;
const GiB = 1 << 30;
const REGION = MiB;
const VERIFY_FAILED = 'Pattern verification failed';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What is written while the peer is down: 4 × 16 MiB, distinct patterns, spread over 4 GiB. */
const RANGES = [
  { offset: 256 * MiB, length: 16 * MiB, pattern: 0x5c },
  // Not region-aligned: touches 17 regions.
  { offset: GiB + 512 * 1024, length: 16 * MiB, pattern: 0xa7 },
  { offset: 2 * GiB + 3 * MiB, length: 16 * MiB, pattern: 0x3e },
  { offset: 4 * GiB - 16 * MiB, length: 16 * MiB, pattern: 0xd1 },
];
/** Never written: must read back as zeroes from either replica. */
const NEVER_WRITTEN = { offset: 3 * GiB, length: 8 * MiB };

const regionsOf = (r: { offset: number; length: number }) =>
  Math.floor((r.offset + r.length - 1) / REGION) - Math.floor(r.offset / REGION) + 1;

const tctl = (endpoint: string, args: string[], timeoutMs = 120_000): Promise<RunResult> =>
  tandemctl(endpoint, ['--json', ...args], timeoutMs);

function resyncDone(logs: LogLine[], peer: string): LogLine[] {
  return logs.filter((l) => l.msg === 'resync done: peer in sync' && l.peer === peer);
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

function expectQemuOk(r: RunResult, bytes: number, offset: number, verb: 'wrote' | 'read'): void {
  expect(r.stdout + r.stderr, explain(r)).not.toContain(VERIFY_FAILED);
  expect(r.code, explain(r)).toBe(0);
  expect(r.stdout, explain(r)).toContain(`${verb} ${bytes}/${bytes} bytes at offset ${offset}`);
}

describe('replicated volume: a returning peer is resynced from the dirty-region bitmap', () => {
  let cluster: Cluster;
  let mp: MultipathClient;

  beforeAll(async () => {
    requireTools('qemu-io');
    if (!existsSync(TANDEMCTL)) throw new Error(`${TANDEMCTL} not found: run \`npm run build\` first`);
    cluster = await startCluster({ nodes: 2, kind: 'replicated', size: '4G', ttl: 5 });
    mp = await MultipathClient.connect({
      paths: cluster.paths(),
      target: cluster.target,
      initiatorName: 'iqn.2026-11.org.tandem.test:replicated-resync',
      commandTimeoutMs: 3000,
      retryWindowMs: 30_000,
    });
  });

  afterAll(async () => {
    await mp?.close();
    await cluster?.destroy();
  });

  it('resyncs only the written regions, verify finds no difference, the peer serves the data after failover', async () => {
    const [a, b] = cluster.names as [string, string];
    // b joins out of sync and is fully resynced first; wait for that and for A/O + A/NO.
    await waitFor('b in sync and both paths usable', 60_000, async () => {
      await mp.refresh();
      const ok =
        mp.state(a) === 'active-optimized' &&
        mp.state(b) === 'active-non-optimized' &&
        resyncDone(cluster.node(a).logs(), b).length > 0;
      return ok ? true : undefined;
    });
    // Regions touched by the initial resync are not dirty any more once quiet (cleanAfterMs 2 s).
    await sleep(3000);

    await cluster.kill(b);
    const doneBefore = resyncDone(cluster.node(a).logs(), b).length;
    const tWrite = performance.now();
    for (const r of RANGES) {
      const w = await qemuIo(cluster.node(a).url(0), [`write -P ${r.pattern} ${r.offset} ${r.length}`], {
        timeoutMs: 120_000,
      });
      expectQemuOk(w, r.length, r.offset, 'wrote');
    }
    const writeMs = performance.now() - tWrite;

    const tStart = performance.now();
    await cluster.start(b);
    const started = performance.now();
    const done = await waitFor('the primary to log "resync done: peer in sync" for b', 120_000, () =>
      resyncDone(cluster.node(a).logs(), b).at(doneBefore),
    );
    const resyncEnd = performance.now();
    const startedLine = cluster
      .node(a)
      .logs()
      .filter((l) => l.msg === 'resync started' && l.peer === b)
      .at(-1);
    await waitFor('b Active/Non-optimized again', 60_000, async () => {
      await mp.refresh();
      return mp.state(b) === 'active-non-optimized' ? true : undefined;
    });
    const anoAt = performance.now();

    const bytes = Number(done.bytes);
    const written = RANGES.reduce((s, r) => s + r.length, 0);
    const touched = RANGES.reduce((s, r) => s + regionsOf(r), 0) * REGION;
    console.log(
      `resync after ${written / MiB} MiB written while ${b} was down (4 GiB volume): ` +
        `resync bytes ${bytes} (${(bytes / MiB).toFixed(1)} MiB, ${touched / MiB} MiB of regions touched), ` +
        `sentBytes ${done.sentBytes}, durationMs ${done.durationMs}; started ${JSON.stringify(
          startedLine && {
            full: startedLine.full,
            regions: startedLine.regions,
            bytes: startedLine.bytes,
            peerDirtyRegions: startedLine.peerDirtyRegions,
          },
        )}; ` +
        `qemu-io writes ${Math.round(writeMs)} ms; \`cluster start ${b}\` (until its ready line) ` +
        `${Math.round(started - tStart)} ms; resync done seen ${Math.round(resyncEnd - tStart)} ms and ` +
        `${b} A/NO (RTPG) ${Math.round(anoAt - tStart)} ms after \`cluster start\` was called`,
    );
    expect(startedLine?.full, 'an incremental resync, not a full one').toBe(false);
    expect(bytes).toBeGreaterThanOrEqual(written);
    expect(bytes).toBeLessThanOrEqual(written + 8 * REGION);
    expect(bytes).toBeLessThan(GiB / 8);

    // The cluster view agrees: b in the in-sync set, its port group A/NO.
    const st = await tctl(cluster.node(a).admin!, ['status']);
    expect(st.code, explain(st)).toBe(0);
    const vol = (
      JSON.parse(st.stdout) as {
        volumes: Array<{ id: string; inSync: string[]; portGroups: Array<{ node: string; state: string }> }>;
      }
    ).volumes.find((v) => v.id === 'vol0');
    expect(vol?.inSync.sort(), st.stdout).toEqual([a, b].sort());
    expect(vol?.portGroups.find((g) => g.node === b)?.state, st.stdout).toMatch(/non.?optimized/i);

    // Every replica identical (run against b's endpoint: it forwards to the primary).
    const t0 = performance.now();
    const v = await tctl(cluster.node(b).admin!, ['verify', 'vol0'], 300_000);
    const verifyMs = performance.now() - t0;
    expect(v.code, explain(v)).toBe(0);
    const res = JSON.parse(v.stdout) as { regions: number; regionSize: number; differing: unknown[] };
    expect(res.differing).toEqual([]);
    expect(Number(res.regions)).toBe((4 * GiB) / REGION);
    console.log(`tandemctl verify vol0: ${res.regions} regions identical in ${Math.round(verifyMs)} ms`);

    // Fail over to b and read everything back through it.
    const tKill = performance.now();
    await cluster.kill(a);
    await waitFor('b Active/Optimized', 60_000, async () => {
      await mp.refresh();
      return mp.state(b) === 'active-optimized' ? true : undefined;
    });
    console.log(
      `failover to ${b}: A/O ${Math.round(performance.now() - tKill)} ms after SIGKILL of ${a} (TTL 5 s)`,
    );
    for (const r of RANGES) {
      const rd = await qemuIo(cluster.node(b).url(0), [`read -P ${r.pattern} ${r.offset} ${r.length}`], {
        timeoutMs: 120_000,
      });
      expectQemuOk(rd, r.length, r.offset, 'read');
    }
    // The bytes just around a range were never written (the unaligned range's region neighbours).
    const edge = RANGES[1]!;
    const z0 = await qemuIo(cluster.node(b).url(0), [`read -P 0 ${edge.offset - 512 * 1024} ${512 * 1024}`]);
    expectQemuOk(z0, 512 * 1024, edge.offset - 512 * 1024, 'read');
    const z1 = await qemuIo(cluster.node(b).url(0), [
      `read -P 0 ${NEVER_WRITTEN.offset} ${NEVER_WRITTEN.length}`,
    ]);
    expectQemuOk(z1, NEVER_WRITTEN.length, NEVER_WRITTEN.offset, 'read');
    // Negative control: the check above can fail.
    const bad = await qemuIo(cluster.node(b).url(0), [`read -P 0x00 ${RANGES[0]!.offset} ${MiB}`]);
    expect(bad.stdout + bad.stderr, explain(bad)).toContain(VERIFY_FAILED);
  }, 600_000);
});
