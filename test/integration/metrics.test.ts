// Issue #6, Metrics: the Prometheus endpoint counts what a real initiator (qemu-io) does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTandem, type Tandem } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { explain, qemuIo, requireTools, start } from '../helpers/tools.js';

const MiB = 1024 * 1024;
const TARGET = 'iqn.2026-11.org.tandem:metrics';

/** `name{labels} value` lines of the exposition format, keyed by the series' full text. */
function parse(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

describe('Prometheus metrics', () => {
  let node: Tandem;
  let url: string;
  const scrape = async (): Promise<Map<string, number>> => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    return parse(await res.text());
  };
  const lu = (labels: string) => `{target="${TARGET}",lun="0",${labels}}`;
  const val = (m: Map<string, number>, series: string) => m.get(series) ?? 0;
  const delta = (a: Map<string, number>, b: Map<string, number>, series: string) =>
    val(b, series) - val(a, series);

  beforeAll(async () => {
    requireTools('qemu-io');
    const port = await freePort();
    node = await startTandem({
      config: {
        targets: [{ iqn: TARGET, luns: [{ lun: 0, backstore: 'memory', size: '64M' }] }],
        metrics: { listen: `127.0.0.1:${port}` },
      },
    });
    url = `http://127.0.0.1:${port}/metrics`;
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('serves /metrics and 404 elsewhere', async () => {
    const m = await scrape();
    expect(m.has('process_cpu_seconds_total')).toBe(true);
    expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('counts writes: commands, bytes out and the latency histogram', async () => {
    const before = await scrape();
    const w = await qemuIo(node.url(0), ['write -P 0xa5 0 4M']);
    expect(w.code, explain(w)).toBe(0);
    const after = await scrape();
    expect(delta(before, after, `tandem_scsi_bytes_total${lu('direction="out"')}`)).toBe(4 * MiB);
    const writes = delta(before, after, `tandem_scsi_commands_total${lu('class="write"')}`);
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(delta(before, after, `tandem_scsi_command_seconds_count${lu('class="write"')}`)).toBe(writes);
    const inf = `tandem_scsi_command_seconds_bucket{le="+Inf",target="${TARGET}",lun="0",class="write"}`;
    expect(delta(before, after, inf)).toBe(writes);
    expect(delta(before, after, `tandem_scsi_command_seconds_sum${lu('class="write"')}`)).toBeGreaterThan(0);
  });

  it('times every command in the receive, queue, backstore and transmit stages', async () => {
    const before = await scrape();
    const w = await qemuIo(node.url(0), ['write -P 0x5a 8M 4M', 'read -P 0x5a 8M 1M']);
    expect(w.code, explain(w)).toBe(0);
    const after = await scrape();
    const d = (series: string) => delta(before, after, series);
    const commands = ['read', 'write', 'other'].reduce(
      (n, c) => n + d(`tandem_scsi_commands_total${lu(`class="${c}"`)}`),
      0,
    );
    const writes = d(`tandem_scsi_commands_total${lu('class="write"')}`);
    expect(writes).toBeGreaterThanOrEqual(1);
    const commandSeconds = ['read', 'write', 'other'].reduce(
      (n, c) => n + d(`tandem_scsi_command_seconds_sum${lu(`class="${c}"`)}`),
      0,
    );
    const stage = (name: string, what: 'count' | 'sum') =>
      d(`tandem_scsi_stage_seconds_${what}${lu(`stage="${name}"`)}`);
    // One observation per command for the per-command stages.
    for (const name of ['receive', 'queue', 'transmit']) expect(stage(name, 'count'), name).toBe(commands);
    // Backstore: one per BlockDevice call — each WRITE and READ makes one (class read also
    // counts INQUIRY and READ CAPACITY, which make none), a SYNCHRONIZE CACHE one more.
    expect(stage('backstore', 'count')).toBeGreaterThanOrEqual(writes + 1);
    expect(stage('backstore', 'count')).toBeLessThanOrEqual(commands);
    // No replication on an embedded node: that stage has no series at all.
    expect(after.has(`tandem_scsi_stage_seconds_count${lu('stage="replication"')}`)).toBe(false);
    for (const name of ['receive', 'backstore', 'transmit'])
      expect(stage(name, 'sum'), name).toBeGreaterThan(0);
    // Queue and backstore happen inside the engine's command time; receive and transmit border
    // it (receive of a solicited write overlaps it), so they get some slack per command.
    expect(stage('queue', 'sum')).toBeLessThanOrEqual(commandSeconds);
    expect(stage('backstore', 'sum')).toBeLessThanOrEqual(commandSeconds);
    expect(stage('receive', 'sum')).toBeLessThanOrEqual(commandSeconds + commands * 0.005);
    expect(stage('transmit', 'sum')).toBeLessThanOrEqual(commandSeconds + commands * 0.005);
  });

  it('counts reads: commands, bytes in and the latency histogram', async () => {
    const before = await scrape();
    const r = await qemuIo(node.url(0), ['read -P 0xa5 0 4M']);
    expect(r.code, explain(r)).toBe(0);
    const after = await scrape();
    // Data-in also carries the login's INQUIRY / READ CAPACITY replies (class read).
    const bytesIn = delta(before, after, `tandem_scsi_bytes_total${lu('direction="in"')}`);
    expect(bytesIn).toBeGreaterThanOrEqual(4 * MiB);
    expect(bytesIn).toBeLessThan(4 * MiB + 64 * 1024);
    expect(delta(before, after, `tandem_scsi_bytes_total${lu('direction="out"')}`)).toBe(0);
    const reads = delta(before, after, `tandem_scsi_commands_total${lu('class="read"')}`);
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(delta(before, after, `tandem_scsi_command_seconds_count${lu('class="read"')}`)).toBe(reads);
    expect(delta(before, after, `tandem_scsi_commands_total${lu('class="write"')}`)).toBe(0);
  });

  it('shows a live session in tandem_iscsi_sessions and drops it after logout', async () => {
    const p = node.portals[0]!;
    const series = `tandem_iscsi_sessions{target="${TARGET}",portal="${p.host}:${p.port}"}`;
    const q = start('qemu-io', ['-f', 'raw', '-c', 'read 0 4k', '-c', 'sleep 3000', node.url(0)]);
    let seen = 0;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && seen === 0) {
      seen = val(await scrape(), series);
      if (seen === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toBe(1);
    const r = await q.done;
    expect(r.code, explain(r)).toBe(0);
    let after = 1;
    for (let i = 0; i < 100 && after !== 0; i++) {
      after = val(await scrape(), series);
      if (after !== 0) await new Promise((res) => setTimeout(res, 50));
    }
    expect(after).toBe(0);
  });
});
