// Issue #5, check 1 (crash failover under load) and check 5 (a stale peer never promotes), on a
// 2-node cluster with a replicated volume (DESIGN.md safety rules 1–3).
//
// Check 1: eight writers (queue depth 8) write 4 KiB blocks through the multipath client, each
// block carrying (LBA, writer, sequence, CRC32C); each writer owns its own LBAs so that, per LBA,
// writes are ordered. The primary is SIGKILLed mid-run; the writers carry on through the
// survivor. Afterwards every LBA reads back from the new primary as its last acknowledged write
// (or as a later write that was sent but not acknowledged: SCSI allows either), never older.
//
// Check 5: the peer is stopped, the primary takes writes, then the primary is stopped and only
// the old peer started: it stays Unavailable (no write accepted, no stale read served) until the
// primary returns; then it is resynced and serves the data written while it was away.
import { describe, expect, it } from 'vitest';
import { waitAllUsable } from '../helpers/cluster.js';
import { multipathCluster } from '../helpers/cluster-fixture.js';
import { read16, testUnitReady, write16 } from '../helpers/initiator/index.js';
import { describeResult, type MultipathClient, senseString } from '../helpers/multipath.js';
import { Status as ScsiStatus } from '../helpers/wire.js';
import { StampedWriters } from '../helpers/write-log.js';

const BLOCK = 512;
const IO = 4096;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('replicated volume: SIGKILL of the primary under queue-depth-8 writes loses no acknowledged write', () => {
  const fx = multipathCluster(
    { nodes: 2, kind: 'replicated', size: '64M', ttl: 5 },
    {
      initiatorName: 'iqn.2026-11.org.tandem.test:replicated-failover',
      commandTimeoutMs: 3000,
      retryWindowMs: 30_000,
    },
  );

  it('every acknowledged write reads back intact from the new primary; failover time is reported', async () => {
    const { cluster, mp } = fx;
    // Both replicas in sync first (the peer joins out of sync and is resynced).
    const primary = await waitAllUsable(mp, 30_000, cluster);
    expect(mp.describeStates()).toMatch(/A\/O/);
    expect(mp.describeStates()).toMatch(/A\/NO/);
    const survivor = cluster.names.find((n) => n !== primary)!;

    const writers = new StampedWriters(mp, { writers: 8, slotsPerWriter: 64 });
    writers.start();
    await sleep(2000);
    const before = writers.acks.length;
    const killedAt = performance.now();
    await cluster.kill(primary);
    // Writes in flight at the kill may still complete on the old primary: the failover ends
    // with the first write the survivor acknowledges.
    const firstOnSurvivor = () => writers.acks.find((x) => x.path === survivor && x.end > killedAt);
    const waitUntil = Date.now() + 25_000;
    while (!firstOnSurvivor() && Date.now() < waitUntil) await sleep(100);
    await sleep(2000);
    await writers.stop();
    const first = firstOnSurvivor();
    expect(
      first,
      `no write acknowledged after the kill; failures: ${writers.failures.slice(-5).join(' | ')}`,
    ).toBeDefined();
    const failoverMs = first!.end - killedAt;
    console.log(
      `replicated failover: ${before} writes acknowledged before SIGKILL of ${primary}, ${writers.acks.length} in all; ` +
        `first acknowledged write through ${survivor} ${Math.round(failoverMs)} ms after the kill (TTL 5 s)`,
    );
    expect(before).toBeGreaterThan(50);
    const { checked, problems } = await writers.verify();
    expect(problems, problems.slice(0, 10).join('\n')).toEqual([]);
    expect(checked).toBeGreaterThan(8 * 64 * 0.9);
  }, 120_000);
});

describe('replicated volume: a stale peer never promotes', () => {
  const fx = multipathCluster(
    { nodes: 2, kind: 'replicated', size: '32M', ttl: 3 },
    {
      initiatorName: 'iqn.2026-11.org.tandem.test:stale-peer',
      commandTimeoutMs: 2000,
      retryWindowMs: 20_000,
    },
  );

  it('stop peer, write, stop primary, start only the old peer: Unavailable until the primary returns', async () => {
    const { cluster, mp } = fx;
    const primary = await waitAllUsable(mp, 30_000, cluster);
    const peer = cluster.names.find((n) => n !== primary)!;
    const before = Buffer.alloc(IO, 0x11);
    expect((await mp.write(0, before)).result.status).toBe(ScsiStatus.GOOD);

    await cluster.kill(peer);
    const fresh = Buffer.alloc(IO, 0x22);
    const w = await mp.write(0, fresh);
    expect(w.result.status, describeResult(w.result)).toBe(ScsiStatus.GOOD);
    expect(w.path).toBe(primary);

    await cluster.kill(primary);
    await cluster.start(peer);
    // Well past a lease TTL: the stale peer must still refuse media access.
    const t0 = Date.now();
    const seen = new Set<string>();
    while (Date.now() - t0 < 8000) {
      const tur = await mp.executeOn(peer, testUnitReady());
      const rd = await mp.executeOn(peer, read16(0, IO / BLOCK), { expectedDataIn: IO });
      const wr = await mp.executeOn(peer, write16(0, IO / BLOCK), { dataOut: Buffer.alloc(IO, 0x33) });
      for (const [name, r] of [
        ['TUR', tur],
        ['READ', rd],
        ['WRITE', wr],
      ] as const) {
        seen.add(`${name} ${describeResult(r)}`);
        expect(r.status, `${name} through the stale peer: ${describeResult(r)}`).toBe(
          ScsiStatus.CHECK_CONDITION,
        );
        expect(senseString(r.sense), `${name} through the stale peer`).toBe('02h/04h/0Ch');
      }
      await sleep(500);
    }
    console.log(`stale peer ${peer} answered for 8 s: ${[...seen].join('; ')}`);
    const peerLogs = cluster.node(peer).logs();
    expect(
      peerLogs.some((l) => String(l.msg).startsWith('election:') && l.to === 'leader'),
      'the stale peer became primary',
    ).toBe(false);
    expect(peerLogs.some((l) => String(l.msg).includes('not in the in-sync set'))).toBe(true);

    // The primary returns: it takes the role, resyncs the peer, and the peer serves new data.
    await cluster.start(primary);
    const t1 = Date.now();
    let r: Awaited<ReturnType<MultipathClient['executeOn']>> | undefined;
    while (Date.now() - t1 < 30_000) {
      await mp.refresh();
      if (mp.state(peer) === 'active-non-optimized') {
        r = await mp.executeOn(peer, read16(0, IO / BLOCK), { expectedDataIn: IO });
        if (r.status === ScsiStatus.GOOD) break;
      }
      await sleep(250);
    }
    expect(r?.status, r ? describeResult(r) : mp.describeStates()).toBe(ScsiStatus.GOOD);
    expect(r!.data.equals(fresh), 'the peer serves the write made while it was away').toBe(true);
  }, 120_000);
});
