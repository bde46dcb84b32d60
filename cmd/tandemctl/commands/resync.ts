import type { Command } from 'commander';
import { formatBytes, formatDuration, percent, section } from '../../../src/admin/admin-format.js';
import { resyncRateSet } from '../../../src/admin/resync-ops.js';
import { action, connect, print, printJson } from '../cli.js';
import { EXIT, usage } from '../errors.js';
import { resyncByVolume } from '../resync-peers.js';

/** tandemctl resync [--rate MIBPS|default [--volume ID]]. */
export function register(program: Command): void {
  program
    .command('resync')
    .description('resync status of every volume: progress, rate, ETA; --rate sets the limit, live')
    .option('--rate <MiBps>', 'set the resync rate limit in MiB/s (0: unlimited; default: the cluster’s)')
    .option('--volume <id>', 'with --rate: this volume only (else the cluster-wide limit)')
    .action(
      action('resync', async (g, o: { rate?: string; volume?: string }) => {
        const c = connect(g);
        if (o.volume !== undefined && o.rate === undefined) throw usage('--volume goes with --rate');
        if (o.rate !== undefined) {
          const mibps = o.rate === 'default' ? undefined : Number(o.rate);
          if (mibps !== undefined && !Number.isFinite(mibps)) throw usage(`--rate ${o.rate}: expected MiB/s`);
          const r = await resyncRateSet(c, mibps, o.volume);
          if (!g.json)
            print(
              `resync rate of ${r.scope}: ${r.resyncRateMiBps === undefined ? 'the cluster’s' : r.resyncRateMiBps === 0 ? 'unlimited' : `${r.resyncRateMiBps} MiB/s`}`,
            );
        }
        const [s, local] = await Promise.all([c.status(), c.nodeStatus().catch(() => undefined)]);
        const running = resyncByVolume(s, local);
        const rows = s.volumes.map((v) => {
          const r = running.get(v.id);
          return {
            volume: v.id,
            primary: v.primary,
            replicas: v.replicas,
            inSync: v.inSync,
            outOfSync: v.replicas.filter((x) => !v.inSync.includes(x)),
            resyncDoneBytes: v.resyncDoneBytes,
            resyncTotalBytes: v.resyncTotalBytes,
            resyncRateBps: r?.rateBps ?? 0,
            resyncEtaSeconds: r?.etaSeconds ?? 0,
            resumed: r?.resumed ?? false,
          };
        });
        if (g.json) printJson(rows);
        else {
          // RATE and ETA only while some resync reports a rate (the primary's view).
          const rated = rows.some((r) => r.resyncRateBps > 0);
          print(
            section(
              'Resync',
              ['VOLUME', 'PRIMARY', 'IN-SYNC', 'OUT-OF-SYNC', 'RESYNC', ...(rated ? ['RATE', 'ETA'] : [])],
              rows.map((r) => [
                r.volume,
                r.primary || 'none',
                r.inSync.join(','),
                r.outOfSync.join(','),
                r.resyncTotalBytes > 0
                  ? `${percent(r.resyncDoneBytes, r.resyncTotalBytes)} ${formatBytes(r.resyncDoneBytes)}/${formatBytes(r.resyncTotalBytes)}${r.resumed ? ' (resumed)' : ''}`
                  : r.outOfSync.length > 0
                    ? 'pending'
                    : 'in sync',
                ...(rated
                  ? [
                      r.resyncRateBps > 0 ? `${formatBytes(r.resyncRateBps)}/s` : '',
                      r.resyncEtaSeconds > 0 ? formatDuration(r.resyncEtaSeconds) : '',
                    ]
                  : []),
              ]),
            ),
          );
        }
        return EXIT.ok;
      }),
    );
}
