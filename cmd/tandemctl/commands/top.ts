import type { Command } from 'commander';
import { table } from '../../../src/admin/admin-format.js';
import { formatLatency, type Scrape, scrape, topRows } from '../../../src/admin/admin-top.js';
import { action, connect, parseIntArg, print } from '../cli.js';
import { EXIT, usage } from '../errors.js';

/** tandemctl top. */
export function register(program: Command): void {
  program
    .command('top')
    .description('live per-LU IOPS, MB/s and p50/p99 latency of the node at --endpoint')
    .option('--interval <seconds>', 'refresh interval', '1')
    .option('--once', 'print one sample (over one interval) and exit')
    .option('--count <n>', 'print N samples and exit')
    .action(
      action('top', async (g, o: { interval: string; once?: boolean; count?: string }) => {
        const interval = Number(o.interval);
        if (!(interval > 0)) throw usage(`--interval ${o.interval}: expected seconds greater than 0`);
        const count = o.once ? 1 : o.count !== undefined ? parseIntArg('--count', o.count, 1) : Infinity;
        const tty = process.stdout.isTTY && !g.json && count > 1;
        const c = connect(g);
        const take = async (): Promise<Scrape> => scrape(await c.metricsText(), performance.now());
        let prev = await take();
        for (let i = 0; i < count; i++) {
          await new Promise((r) => setTimeout(r, interval * 1000));
          const cur = await take();
          const rows = topRows(prev, cur);
          prev = cur;
          if (g.json) {
            print(JSON.stringify({ at: new Date().toISOString(), lus: rows }));
            continue;
          }
          const text =
            `tandemctl top — ${g.endpoint}, every ${interval} s, ${new Date().toLocaleTimeString()}\n` +
            table(
              ['TARGET', 'LUN', 'IOPS', 'READ/s', 'WRITE/s', 'READ MB/s', 'WRITE MB/s', 'P50', 'P99'],
              rows.map((r) => [
                r.target,
                r.lun,
                r.iops.toFixed(0),
                r.readIops.toFixed(0),
                r.writeIops.toFixed(0),
                (r.readBps / 1e6).toFixed(1),
                (r.writeBps / 1e6).toFixed(1),
                formatLatency(r.p50),
                formatLatency(r.p99),
              ]),
            );
          process.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n` : `${text}\n`);
        }
        return EXIT.ok;
      }),
    );
}
