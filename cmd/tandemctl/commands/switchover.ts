import type { Command } from 'commander';
import { action, connect, print, printJson } from '../cli.js';
import { EXIT, usage } from '../errors.js';

/** tandemctl switchover. */
export function register(program: Command): void {
  program
    .command('switchover <volume>')
    .description('hand the primary role of VOLUME to another in-sync node (planned, no I/O errors)')
    .option('--to <node>', 'the new primary (default: any in-sync peer)')
    .option('--wait <seconds>', 'how long to wait for the handover', '30')
    .action(
      action(
        (v: string) => `switchover ${v}`,
        async (g, vol: string, o: { to?: string; wait: string }) => {
          const wait = Number(o.wait);
          if (!(wait > 0)) throw usage(`--wait ${o.wait}: expected seconds greater than 0`);
          const r = await connect(g).switchover(vol, o.to, wait * 1000);
          if (g.json) printJson(r);
          else print(`volume ${r.volume}: primary ${r.from} → ${r.to} (epoch ${r.epoch})`);
          return EXIT.ok;
        },
      ),
    );
}
