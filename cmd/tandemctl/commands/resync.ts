import type { Command } from 'commander';
import { formatBytes, percent, section } from '../../../src/admin/admin-format.js';
import { action, connect, print, printJson } from '../cli.js';
import { EXIT } from '../errors.js';

/** tandemctl resync. */
export function register(program: Command): void {
  program
    .command('resync')
    .description('resync status of every volume (from status)')
    .action(
      action('resync', async (g) => {
        const s = await connect(g).status();
        const rows = s.volumes.map((v) => ({
          volume: v.id,
          primary: v.primary,
          replicas: v.replicas,
          inSync: v.inSync,
          outOfSync: v.replicas.filter((r) => !v.inSync.includes(r)),
          resyncDoneBytes: v.resyncDoneBytes,
          resyncTotalBytes: v.resyncTotalBytes,
        }));
        if (g.json) printJson(rows);
        else {
          print(
            section(
              'Resync',
              ['VOLUME', 'PRIMARY', 'IN-SYNC', 'OUT-OF-SYNC', 'RESYNC'],
              rows.map((r) => [
                r.volume,
                r.primary || 'none',
                r.inSync.join(','),
                r.outOfSync.join(','),
                r.resyncTotalBytes > 0
                  ? `${percent(r.resyncDoneBytes, r.resyncTotalBytes)} ${formatBytes(r.resyncDoneBytes)}/${formatBytes(r.resyncTotalBytes)}`
                  : r.outOfSync.length > 0
                    ? 'pending'
                    : 'in sync',
              ]),
            ),
          );
        }
        return EXIT.ok;
      }),
    );
}
