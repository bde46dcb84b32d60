import type { Command } from 'commander';
import { action, connect, print } from '../cli.js';
import { EXIT } from '../errors.js';
import { showStatus } from '../render.js';
import { resyncByVolume } from '../resync-peers.js';

/** tandemctl status. */
export function register(program: Command): void {
  program
    .command('status')
    .description('nodes, volumes, ALUA state of every port group, sessions')
    .action(
      action('status', async (g) => {
        const c = connect(g);
        const [s, local] = await Promise.all([c.status(), c.nodeStatus().catch(() => undefined)]);
        print(g.json ? JSON.stringify(s, null, 2) : showStatus(s, resyncByVolume(s, local)));
        return EXIT.ok;
      }),
    );
}
