// Issue #4, check 3: implicit ALUA across two nodes. REPORT TARGET PORT GROUPS is the same
// through both nodes (A/O on the primary's group, A/NO on the other); SIGKILL of the primary
// makes the survivor Active/Optimized and take a WRITE within lease TTL + 2 s, the multipath
// client seeing ASYMMETRIC ACCESS STATE CHANGED on the way, and data written before the kill
// reads back. With the volume set to Standby, the other node reports Standby and rejects media
// access (and TEST UNIT READY) with NOT READY 02h/04h/0Bh.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../helpers/cluster.js';
import {
  inquiry,
  parseStandardInquiry,
  read16,
  readCapacity16,
  reportLuns,
  ScsiStatus,
  testUnitReady,
  write16,
} from '../helpers/initiator/index.js';
import {
  describeResult,
  MultipathClient,
  openSession,
  type RtpgData,
  senseString,
} from '../helpers/multipath.js';

const BLOCK = 512;

function groupOf(d: RtpgData, tpgId: number | undefined) {
  const g = d.groups.find((x) => x.targetPortGroupId === tpgId);
  if (!g) throw new Error(`no target port group ${tpgId} in RTPG: ${JSON.stringify(d.groups)}`);
  return g;
}

function timeline(mp: MultipathClient, since: number): string {
  const rows = [
    ...mp.transitions
      .filter((t) => t.at >= since)
      .map((t) => ({ at: t.at, text: `${t.path}: ${t.from} -> ${t.to} (${t.cause})` })),
    ...mp.unitAttentions
      .filter((u) => u.at >= since)
      .map((u) => ({
        at: u.at,
        text: `${u.path}: UNIT ATTENTION ${senseString({ key: 6, ...u })} on ${u.op}`,
      })),
    ...mp.io
      .filter((r) => r.start >= since && r.op === 'WRITE')
      .map((r) => ({
        at: r.end,
        text: `${r.path}: WRITE ${r.error ?? describeResult({ status: r.status ?? -1, sense: r.sense })}`,
      })),
  ].sort((a, b) => a.at - b.at);
  // Retries repeat the same few lines: print a repeated cycle once, with its count and span.
  const out: string[] = [];
  for (let i = 0; i < rows.length; ) {
    let best = { k: 1, reps: 1 };
    for (let k = 1; k <= 4; k++) {
      let reps = 1;
      while (
        i + (reps + 1) * k <= rows.length &&
        rows.slice(i + reps * k, i + (reps + 1) * k).every((r, j) => r.text === rows[i + j]!.text)
      )
        reps++;
      if (reps > 1 && reps * k > best.reps * best.k) best = { k, reps };
    }
    const span =
      best.reps > 1
        ? ` (x${best.reps} until +${Math.round(rows[i + best.reps * best.k - 1]!.at - since)} ms)`
        : '';
    for (let j = 0; j < best.k; j++)
      out.push(
        `  +${Math.round(rows[i + j]!.at - since)} ms  ${rows[i + j]!.text}${j === best.k - 1 ? span : ''}`,
      );
    i += best.reps * best.k;
  }
  return out.join('\n');
}

describe('ALUA across two nodes (Active/Non-optimized peer), failover on SIGKILL', () => {
  let cluster: Cluster;
  let mp: MultipathClient;
  /** Does no I/O: learns the states from its path checker (TEST UNIT READY) alone, like multipathd. */
  let idle: MultipathClient;
  /** TEST UNIT READY and READ through the survivor, side by side, from SIGKILL until READ works. */
  const probe: Array<{ at: number; tur: string; read: string }> = [];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2 });
    mp = await MultipathClient.connect({
      paths: cluster.paths(),
      target: cluster.target,
      initiatorName: 'iqn.2026-11.org.tandem.test:alua-failover',
      commandTimeoutMs: 3000,
    });
    idle = await MultipathClient.connect({
      paths: cluster.paths(),
      target: cluster.target,
      initiatorName: 'iqn.2026-11.org.tandem.test:alua-checker',
      checkerIntervalMs: 250,
    });
  });

  afterAll(async () => {
    await idle?.close();
    await mp?.close();
    await cluster?.destroy();
  });

  it('INQUIRY says implicit ALUA (TPGS 01b) through both nodes', async () => {
    for (const name of cluster.names) {
      const r = await mp.executeOn(name, inquiry(), { expectedDataIn: 255 });
      expect(r.status, `${name}: ${describeResult(r)}`).toBe(ScsiStatus.GOOD);
      expect(parseStandardInquiry(r.data).tpgs, name).toBe(1);
    }
  });

  it('RTPG is byte-identical through both nodes, in both formats: A/O on the primary, A/NO on the other', async () => {
    const [a, b] = cluster.names as [string, string];
    for (const format of ['length-only', 'extended'] as const) {
      const viaA = await mp.rtpg(a, format);
      const viaB = await mp.rtpg(b, format);
      expect(viaB.raw.toString('hex'), `${format} RTPG through ${b} vs ${a}`).toBe(viaA.raw.toString('hex'));
      expect(viaA.data.format).toBe(format);
      expect(viaA.data.truncated).toBe(false);
      expect(viaA.data.groups, `${format}: one group per node`).toHaveLength(2);
    }
    const ext = mp.rtpgReads.at(-1)!.data;
    expect(
      ext.implicitTransitionTime,
      'a short implicit transition time (seconds, never 60)',
    ).toBeGreaterThan(0);
    expect(ext.implicitTransitionTime).toBeLessThanOrEqual(30);

    const [pa, pb] = mp.paths;
    expect(pa!.targetPortGroupId, 'VPD 83h names a target port group through a').toBeDefined();
    expect(pb!.targetPortGroupId, 'VPD 83h names a target port group through b').toBeDefined();
    expect(pa!.targetPortGroupId).not.toBe(pb!.targetPortGroupId);
    expect(pa!.relativeTargetPortId).not.toBe(pb!.relativeTargetPortId);
    // Each group lists its node's relative port.
    expect(groupOf(ext, pa!.targetPortGroupId).relativeTargetPortIds).toContain(pa!.relativeTargetPortId);
    expect(groupOf(ext, pb!.targetPortGroupId).relativeTargetPortIds).toContain(pb!.relativeTargetPortId);
    // Node a starts first (deploy/local/cluster), so it is the primary.
    expect(groupOf(ext, pa!.targetPortGroupId).state).toBe('active-optimized');
    expect(groupOf(ext, pb!.targetPortGroupId).state).toBe('active-non-optimized');
    expect(mp.describeStates()).toBe('a=A/O b=A/NO');
  });

  it('I/O works through both paths: a write through the A/NO node is read back through the A/O node', async () => {
    const data = randomBytes(8 * BLOCK);
    const w = await mp.executeOn('b', write16(100, 8), { dataOut: data, op: 'WRITE' });
    expect(w.status, describeResult(w)).toBe(ScsiStatus.GOOD);
    const r = await mp.executeOn('a', read16(100, 8), { expectedDataIn: data.length, op: 'READ' });
    expect(r.status, describeResult(r)).toBe(ScsiStatus.GOOD);
    expect(r.data.equals(data)).toBe(true);
  });

  it('SIGKILL of the primary: the survivor becomes A/O and takes a WRITE within lease TTL + 2 s; the data survives', async () => {
    const primary = mp.paths.find((p) => p.state === 'active-optimized')!.name;
    const survivor = cluster.names.find((n) => n !== primary)!;
    const before = randomBytes(64 * 1024);
    const w0 = await mp.write(2048, before);
    expect(w0.path, 'writes go to the A/O path').toBe(primary);
    expect(w0.result.status, describeResult(w0.result)).toBe(ScsiStatus.GOOD);

    const s = cluster.node(survivor);
    const { session: probeSession } = await openSession({
      host: s.host,
      port: s.port,
      target: cluster.target,
      initiatorName: 'iqn.2026-11.org.tandem.test:alua-probe',
    });
    let probing = true;
    const t0 = performance.now();
    const prober = (async () => {
      while (probing) {
        const tur = describeResult(await probeSession.scsi(0, testUnitReady()));
        const read = describeResult(await probeSession.scsi(0, read16(0, 1), { expectedDataIn: BLOCK }));
        probe.push({ at: performance.now() - t0, tur, read });
        // Until READ works again after having failed since the kill.
        if (read === 'GOOD' && probe.some((p) => p.read !== 'GOOD')) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await cluster.kill(primary);
    const after = randomBytes(4096);
    const ttlMs = cluster.ttlSeconds * 1000;
    const w1 = await mp.write(4096, after, BLOCK, { retryWindowMs: ttlMs + 15_000 });
    const elapsed = performance.now() - t0;
    await Promise.race([prober, new Promise((r) => setTimeout(r, 2000))]);
    probing = false;
    await prober;
    probeSession.close();
    console.log(
      `failover: WRITE GOOD through ${w1.path} ${Math.round(elapsed)} ms after SIGKILL of ${primary} ` +
        `(lease TTL ${cluster.ttlSeconds} s, ${w1.attempts} attempts)\n${timeline(mp, t0)}`,
    );
    expect(w1.result.status, describeResult(w1.result)).toBe(ScsiStatus.GOOD);
    expect(w1.path).toBe(survivor);
    expect(elapsed, `the write took ${Math.round(elapsed)} ms; limit lease TTL + 2 s`).toBeLessThan(
      ttlMs + 2000,
    );

    // The survivor reports itself A/O now, and the dead node's group as not usable.
    const rt = (await mp.rtpg(survivor)).data;
    const sp = mp.paths.find((p) => p.name === survivor)!;
    const dp = mp.paths.find((p) => p.name === primary)!;
    expect(groupOf(rt, sp.targetPortGroupId).state).toBe('active-optimized');
    // DESIGN.md Roles and ALUA: a dead node's port group is Unavailable (04h 0Ch), nothing else.
    expect(groupOf(rt, dp.targetPortGroupId).state, "the dead node's port group").toBe('unavailable');
    expect(mp.state(survivor)).toBe('active-optimized');

    // The client saw ASYMMETRIC ACCESS STATE CHANGED through the survivor on the way.
    const ua = mp.unitAttentions.find(
      (u) => u.path === survivor && u.asc === 0x2a && u.ascq === 0x06 && u.at >= t0,
    );
    expect(ua, `unit attentions since the kill:\n${timeline(mp, t0)}`).toBeDefined();
    // Path sequences: the dead primary's path failed; the survivor went A/NO -> … -> A/O.
    expect(mp.sequence(primary)).toContain('A/O->failed');
    const seq = mp.transitions.filter((t) => t.path === survivor && t.at >= t0);
    expect(seq.at(-1)?.to, timeline(mp, t0)).toBe('active-optimized');

    // Data written before the kill, and after, read back through the new primary.
    const r0 = await mp.read(2048, before.length / BLOCK);
    expect(r0.path).toBe(survivor);
    expect(r0.result.data.equals(before), 'data written before the kill').toBe(true);
    const r1 = await mp.read(4096, after.length / BLOCK);
    expect(r1.result.data.equals(after)).toBe(true);

    // A client doing no I/O learns the same from its path checker alone.
    const deadline = performance.now() + 5000;
    while (idle.state(survivor) !== 'active-optimized' && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(idle.describeStates(), 'the idle client (path checker only)').toBe(
      primary === 'a' ? 'a=failed b=A/O' : 'a=A/O b=failed',
    );
  });

  it('during the failover, TEST UNIT READY through the survivor fails whenever its READ does (path checkers rely on it)', () => {
    expect(probe.length, 'the probe ran during the failover').toBeGreaterThan(1);
    const lines = probe.map((p) => `  +${Math.round(p.at)} ms  TUR ${p.tur} | READ ${p.read}`);
    // Collapse repeats for the message.
    const shown = lines.filter(
      (l, i) => i === 0 || l.replace(/^\s*\+\d+ ms/, '') !== lines[i - 1]!.replace(/^\s*\+\d+ ms/, ''),
    );
    // Each sample sends TUR, then READ. A TUR answered GOOD is wrong when the port already could
    // not do I/O when it was sent: the READ just before it (previous sample) failed NOT READY.
    // (A READ failing right after a GOOD TUR of the same sample is the failure being noticed
    // between the two commands, which no target can avoid.)
    const notReady = (read: string) => read.startsWith('CHECK CONDITION 02h/04h');
    const mismatched = probe.filter((p, i) => p.tur === 'GOOD' && i > 0 && notReady(probe[i - 1]!.read));
    expect(
      mismatched.length,
      `DESIGN.md: "TEST UNIT READY fails with the state's sense the moment a port cannot do I/O"; ` +
        `samples where TUR said GOOD right after a READ failed NOT READY (${mismatched.length} of ${probe.length}):\n${shown.join('\n')}`,
    ).toBe(0);
  });

  it('the old primary, restarted, rejoins without taking the primary role back; RTPG identical again', async () => {
    const primary = mp.paths.find((p) => p.state === 'active-optimized')!.name;
    const returning = cluster.names.find((n) => n !== primary)!;
    await cluster.start(returning);
    // The client logs in again on refresh; wait until both nodes give the same answer.
    const deadline = performance.now() + 15_000;
    let viaP: Buffer | undefined;
    let viaR: Buffer | undefined;
    for (;;) {
      await mp.refresh();
      if (mp.paths.every((p) => p.connected)) {
        viaP = (await mp.rtpg(primary, 'extended')).raw;
        viaR = (await mp.rtpg(returning, 'extended')).raw;
        if (viaP.equals(viaR) && mp.state(returning) !== 'unknown') break;
      }
      if (performance.now() > deadline)
        throw new Error(
          `RTPG through ${primary} and ${returning} still differ 15 s after the restart:\n${viaP?.toString('hex')}\n${viaR?.toString('hex')}`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(mp.state(primary)).toBe('active-optimized');
    expect(mp.state(returning)).not.toBe('active-optimized');
  });
});

describe('Standby (--standby): the non-primary rejects media access with 02h/04h/0Bh', () => {
  let cluster: Cluster;
  let mp: MultipathClient;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, standby: true });
    mp = await MultipathClient.connect({
      paths: cluster.paths(),
      target: cluster.target,
      initiatorName: 'iqn.2026-11.org.tandem.test:alua-standby',
      commandTimeoutMs: 3000,
    });
  });

  afterAll(async () => {
    await mp?.close();
    await cluster?.destroy();
  });

  it('RTPG identical through both nodes: A/O and Standby', async () => {
    const viaA = await mp.rtpg('a', 'extended');
    const viaB = await mp.rtpg('b', 'extended');
    expect(viaB.raw.toString('hex')).toBe(viaA.raw.toString('hex'));
    expect(mp.describeStates()).toBe('a=A/O b=S');
  });

  it('through the Standby node: TEST UNIT READY, READ and WRITE fail NOT READY 02h/04h/0Bh', async () => {
    const cases: Array<[string, Buffer, { dataOut?: Buffer; expectedDataIn?: number }]> = [
      ['TEST UNIT READY', testUnitReady(), {}],
      ['READ(16)', read16(0, 8), { expectedDataIn: 8 * BLOCK }],
      ['WRITE(16)', write16(0, 8), { dataOut: Buffer.alloc(8 * BLOCK, 0x5b) }],
    ];
    for (const [name, cdb, opts] of cases) {
      const r = await mp.executeOn('b', cdb, { ...opts, op: name });
      expect(describeResult(r), `${name} through the Standby node`).toBe('CHECK CONDITION 02h/04h/0Bh');
    }
  });

  it('through the Standby node: INQUIRY, REPORT LUNS and READ CAPACITY still answer', async () => {
    const cases: Array<[string, Buffer, number]> = [
      ['INQUIRY', inquiry(), 255],
      ['REPORT LUNS', reportLuns(), 4096],
      ['READ CAPACITY(16)', readCapacity16(), 32],
    ];
    for (const [name, cdb, len] of cases) {
      const r = await mp.executeOn('b', cdb, { expectedDataIn: len, op: name });
      expect(describeResult(r), `${name} through the Standby node`).toBe('GOOD');
    }
  });

  it('the multipath client writes through the A/O node and never uses the Standby path', async () => {
    const data = randomBytes(4096);
    const w = await mp.write(0, data);
    expect(w.path).toBe('a');
    expect(w.attempts).toBe(1);
    const r = await mp.read(0, 8);
    expect(r.result.data.equals(data)).toBe(true);
  });
});
