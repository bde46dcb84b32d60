import type { Command } from 'commander';
import { section } from '../../../src/admin/admin-format.js';
import * as ops from '../../../src/admin/admin-ops.js';
import { action, connect, parseIntArg, print, printJson } from '../cli.js';
import { EXIT } from '../errors.js';

/** tandemctl lun map|unmap|list. */
export function register(program: Command): void {
  // lun
  const lun = program.command('lun').description('map volumes to target LUNs');
  lun
    .command('map <target> <lun> <volume>')
    .description('export VOLUME as LUN of TARGET (nodes add the LU live)')
    .action(
      action(
        (t: string, l: string, v: string) => `lun map ${t} ${l} ${v}`,
        async (g, target: string, l: string, vol: string) => {
          const n = parseIntArg('LUN', l, 0, 16383);
          await ops.lunMap(connect(g), target, n, vol);
          if (!g.json) print(`${target} LUN ${n} → volume ${vol}`);
          return EXIT.ok;
        },
      ),
    );
  lun
    .command('unmap <target> <lun>')
    .description('remove a LUN (the volume stays)')
    .action(
      action(
        (t: string, l: string) => `lun unmap ${t} ${l}`,
        async (g, target: string, l: string) => {
          const n = parseIntArg('LUN', l, 0, 16383);
          await ops.lunUnmap(connect(g), target, n);
          if (!g.json) print(`${target} LUN ${n} unmapped`);
          return EXIT.ok;
        },
      ),
    );
  lun
    .command('list')
    .description('every LUN mapping')
    .action(
      action('lun list', async (g) => {
        const luns = (await connect(g).listConfig('luns')).entries.map(
          (e) => e.value as unknown as ops.LunValue,
        );
        luns.sort((a, b) => (a.target === b.target ? a.lun - b.lun : a.target < b.target ? -1 : 1));
        if (g.json) printJson(luns);
        else
          print(
            section(
              'LUNs',
              ['TARGET', 'LUN', 'VOLUME'],
              luns.map((l) => [l.target, l.lun, l.volume]),
            ),
          );
        return EXIT.ok;
      }),
    );
}
