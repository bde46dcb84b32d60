// `npm run soak:hostile` (issue #13, check 3): mixed hostile clients against one node for
// SOAK_MINUTES (default 10; e.g. SOAK_MINUTES=1 npm run soak:hostile) while a verified writer
// runs. Prints RSS over time (and its max), refusals by kind (tandem_iscsi_refusals_total), and
// the writer's p50/p99 latency before and during the attacks. Fails if the writer sees an error
// or wrong data, or if RSS grows past the node budget.
//
// Hostile clients, picked at random, several at once: READ floods never read (windowed and
// immediate, 2 MiB each), bursts of stalled TCP connections, logins past the per-initiator
// session cap, WRITEs that never send their data (TASK SET FULL past commandsPerSession).
// One embedded node (a 2-node cluster would add etcd and replication to what is measured).
import fs from 'node:fs';
import net from 'node:net';
import { expect, it } from 'vitest';
import { DEMO_TARGET, startTandem, type Tandem } from '../helpers/daemon.js';
import {
  buildScsiCommand,
  IscsiInitiator,
  read10,
  testUnitReady,
  write10,
} from '../helpers/initiator/index.js';
import { freePort } from '../helpers/ports.js';
import { Status } from '../helpers/wire.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? process.argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 10);
const MiB = 1 << 20;
const NODE_BUDGET = 256 * MiB;
const BLOCK = 512;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rss(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function login(node: Tandem, name: string, isid?: string): Promise<IscsiInitiator> {
  const init = await IscsiInitiator.connect({
    host: '127.0.0.1',
    port: node.portals[0]!.port,
    initiatorName: `iqn.2026-12.org.tandem.soak:${name}`,
    sessionType: 'Normal',
    targetName: DEMO_TARGET,
    timeoutMs: 30_000,
    ...(isid ? { isid } : {}),
    params: { InitialR2T: 'Yes', ImmediateData: 'No' },
  });
  for (let i = 0; i < 3; i++) if ((await init.scsi(0, testUnitReady())).status === Status.GOOD) break;
  return init;
}

/** The verified writer: write a unique pattern, read it back, compare; every latency kept. */
class Writer {
  readonly latencies: number[] = [];
  errors: string[] = [];
  #stop = false;
  #loop: Promise<void> | undefined;
  constructor(readonly init: IscsiInitiator) {}
  start(): void {
    this.#loop = (async () => {
      for (let i = 0; !this.#stop; i++) {
        const lba = 100_000 + (i % 256) * 16;
        const data = Buffer.alloc(16 * BLOCK, (i % 251) + 1);
        data.writeUInt32BE(i, 0);
        try {
          let t = performance.now();
          const w = await this.init.scsi(0, write10(lba, 16), { dataOut: data });
          this.latencies.push(performance.now() - t);
          t = performance.now();
          const r = await this.init.scsi(0, read10(lba, 16), { expectedDataIn: data.length });
          this.latencies.push(performance.now() - t);
          if (w.status !== 0 || r.status !== 0 || !r.data.equals(data))
            this.errors.push(
              `round ${i}: write ${w.status}, read ${r.status}, data ok ${r.data.equals(data)}`,
            );
        } catch (err) {
          this.errors.push(`round ${i}: ${(err as Error).message}`);
          if (this.init.isClosed) return;
        }
      }
    })();
  }
  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }
}

type Attack = (node: Tandem, id: number) => Promise<void>;

const attacks: Record<string, Attack> = {
  async 'read flood (windowed)'(node, id) {
    await readFlood(node, id, false);
  },
  async 'read flood (immediate)'(node, id) {
    await readFlood(node, id, true);
  },
  async 'stalled connections'(node) {
    const socks = Array.from({ length: 200 }, () => {
      const s = net.connect({ host: '127.0.0.1', port: node.portals[0]!.port });
      s.on('error', () => {});
      return s;
    });
    await sleep(2000 + Math.random() * 3000);
    for (const s of socks) s.destroy();
  },
  async 'sessions past the cap'(node, id) {
    const open: IscsiInitiator[] = [];
    for (let i = 0; i < 12; i++) {
      try {
        open.push(await login(node, `many-${id}`, `4000013700${i.toString(16).padStart(2, '0')}`));
      } catch {
        // past sessionsPerInitiator: refused, as it should be
      }
    }
    await sleep(1000);
    for (const s of open) s.close();
  },
  async 'writes without data'(node, id) {
    const init = await login(node, `stall-${id}`);
    for (let i = 0; i < 64; i++) {
      init.sendPdu(
        buildScsiCommand({
          lun: 0,
          itt: init.nextItt(),
          cmdSN: init.allocCmdSN(),
          expStatSN: init.expStatSN,
          cdb: write10(i * 8, 8),
          expectedDataTransferLength: 8 * BLOCK,
          write: true,
        }),
      );
    }
    await sleep(2000 + Math.random() * 2000);
    init.close();
  },
};

async function readFlood(node: Tandem, id: number, immediate: boolean): Promise<void> {
  const hog = await login(node, `hog-${id}`);
  hog.socket.pause();
  for (let i = 0; i < 400; i++) {
    hog.sendPdu(
      buildScsiCommand({
        lun: 0,
        itt: hog.nextItt(),
        cmdSN: immediate ? hog.cmdSN : hog.allocCmdSN(),
        expStatSN: hog.expStatSN,
        cdb: read10(0, (2 * MiB) / BLOCK),
        expectedDataTransferLength: 2 * MiB,
        read: true,
        immediate,
      }),
    );
  }
  await sleep(3000 + Math.random() * 4000);
  hog.close();
}

async function refusals(metricsPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tandem_iscsi_refusals_total\{kind="([^"]+)"\} (\d+)/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

it(`hostile soak: ${MINUTES} min of mixed hostile clients while a verified writer runs`, async () => {
  const metricsPort = await freePort();
  const node = await startTandem({
    config: {
      metrics: { listen: `127.0.0.1:${metricsPort}` },
      iscsi: { limits: { nodeBudget: NODE_BUDGET, sessionsPerInitiator: 8, commandsPerSession: 32 } },
      targets: [{ iqn: DEMO_TARGET, luns: [{ lun: 0, backstore: 'memory', size: '256M' }] }],
    },
  });
  const rssSeries: Array<[number, number]> = [];
  const t0 = Date.now();
  const sampler = setInterval(() => rssSeries.push([(Date.now() - t0) / 1000, rss(node.pid)]), 1000);
  try {
    const writer = new Writer(await login(node, 'writer'));
    writer.start();
    const totalMs = MINUTES * 60_000;
    const baselineMs = Math.min(30_000, totalMs / 6);
    await sleep(baselineMs);
    const before = writer.latencies.slice().sort((a, b) => a - b);
    const duringFrom = writer.latencies.length;
    const names = Object.keys(attacks);
    const counts = new Map<string, number>();
    let id = 0;
    const end = t0 + totalMs;
    const workers = Array.from({ length: 3 }, async () => {
      while (Date.now() < end) {
        const name = names[Math.floor(Math.random() * names.length)]!;
        counts.set(name, (counts.get(name) ?? 0) + 1);
        try {
          await attacks[name]!(node, ++id);
        } catch {
          // a hostile client refused or cut off is the point
        }
      }
    });
    await Promise.all(workers);
    const during = writer.latencies.slice(duringFrom).sort((a, b) => a - b);
    await writer.stop();
    const refused = await refusals(metricsPort);
    const maxRss = Math.max(...rssSeries.map(([, v]) => v));
    const startRss = rssSeries[0]?.[1] ?? 0;
    const every = Math.max(1, Math.floor(rssSeries.length / 20));
    console.log(
      [
        `hostile soak: ${MINUTES} min, node budget ${NODE_BUDGET / MiB} MiB`,
        `attacks: ${[...counts].map(([k, v]) => `${k} ×${v}`).join(', ')}`,
        `RSS over time (MiB): ${rssSeries
          .filter((_, i) => i % every === 0)
          .map(([t, v]) => `${t.toFixed(0)}s ${(v / MiB).toFixed(0)}`)
          .join(', ')}`,
        `RSS start ${(startRss / MiB).toFixed(0)} MiB, max ${(maxRss / MiB).toFixed(0)} MiB`,
        `refusals: ${Object.entries(refused)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
        `writer before: ${before.length} commands, p50 ${pct(before, 0.5).toFixed(1)} ms, p99 ${pct(before, 0.99).toFixed(1)} ms`,
        `writer during: ${during.length} commands, p50 ${pct(during, 0.5).toFixed(1)} ms, p99 ${pct(during, 0.99).toFixed(1)} ms`,
        `writer errors: ${writer.errors.length}${writer.errors.length ? ` (first: ${writer.errors[0]})` : ''}`,
      ].join('\n'),
    );
    expect(writer.errors).toEqual([]);
    expect(during.length).toBeGreaterThan(0);
    expect(maxRss - startRss).toBeLessThan(NODE_BUDGET + 64 * MiB);
    writer.init.close();
  } finally {
    clearInterval(sampler);
    await node.stop();
  }
});
