import type { Command } from 'commander';
import { formatBytes, progressBar, table } from '../../../src/admin/admin-format.js';
import { action, connect, print, printJson } from '../cli.js';
import { EXIT } from '../errors.js';

/** tandemctl verify. */
export function register(program: Command): void {
  program
    .command('verify <volume>')
    .description('compare every replica of VOLUME with the primary (exit 3 if they differ)')
    .action(
      action(
        (v: string) => `verify ${v}`,
        async (g, vol: string) => {
          const tty = process.stderr.isTTY && !g.json;
          let lastPct = -1;
          const r = await connect(g).verify(vol, (done, total) => {
            if (total <= 0) return;
            if (tty) {
              process.stderr.write(`\r${progressBar(done, total)}`);
              return;
            }
            const pct = Math.floor((100 * done) / total / 10) * 10;
            if (pct > lastPct && !g.json) {
              lastPct = pct;
              process.stderr.write(`verify ${vol}: ${pct}%\n`);
            }
          });
          if (tty) process.stderr.write('\n');
          if (g.json) printJson({ volume: vol, ...r });
          else if (r.differing.length === 0) {
            print(
              `volume ${vol}: ${r.regions} regions of ${formatBytes(r.regionSize)} compared: replicas identical`,
            );
          } else {
            print(`volume ${vol}: ${r.differing.length} of ${r.regions} regions differ`);
            print(
              table(
                ['NODE', 'OFFSET', 'LENGTH'],
                r.differing.map((d) => [d.node, d.offset, formatBytes(d.length)]),
              ),
            );
          }
          return r.differing.length > 0 ? EXIT.differences : EXIT.ok;
        },
      ),
    );
}
