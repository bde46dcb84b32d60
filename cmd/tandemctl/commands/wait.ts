import type { Command } from 'commander';
import { AdminCallError } from '../../../src/admin/admin-client.js';
import { action, connect, print, printJson } from '../cli.js';
import { CliError, EXIT, explain, usage } from '../errors.js';
import { waitReason } from '../wait-reason.js';

/** tandemctl wait. */
export function register(program: Command): void {
  program
    .command('wait <volume>')
    .description('wait until VOLUME is served by a primary (and, with --in-sync, every replica is in sync)')
    .option('--primary <node>', 'wait until NODE is the primary')
    .option('--in-sync', 'also wait until every replica is up, in sync and usable (no resync running)')
    .option('--wait <seconds>', 'how long to wait before giving up (exit 1)', '60')
    .addHelpText(
      'after',
      `
Polls tandemctl status every half second. The endpoint may be down or the cluster unavailable
for a while (a failover): those are retried until --wait runs out. Example, after a kill:
  tandemctl wait data1 --primary b && tandemctl status
`,
    )
    .action(
      action(
        (v: string) => `wait ${v}`,
        async (g, vol: string, o: { primary?: string; inSync?: boolean; wait: string }) => {
          const wait = Number(o.wait);
          if (!(wait > 0)) throw usage(`--wait ${o.wait}: expected seconds greater than 0`);
          const want = { primary: o.primary, inSync: o.inSync === true };
          const started = Date.now();
          const deadline = started + wait * 1000;
          let why = 'no answer yet';
          for (;;) {
            try {
              const s = await connect(g).status();
              const reason = waitReason(s, vol, want);
              if (reason === undefined) {
                const v = s.volumes.find((x) => x.id === vol)!;
                const secs = ((Date.now() - started) / 1000).toFixed(1);
                if (g.json)
                  printJson({
                    volume: vol,
                    primary: v.primary,
                    inSync: v.inSync,
                    epoch: v.epoch,
                    seconds: Number(secs),
                  });
                else {
                  const sync = v.kind === 'replicated' ? `, in sync ${v.inSync.join(',')}` : '';
                  print(`volume ${vol}: primary ${v.primary} (epoch ${v.epoch})${sync} — after ${secs} s`);
                }
                return EXIT.ok;
              }
              if (!s.volumes.some((x) => x.id === vol)) {
                throw new CliError(
                  EXIT.failed,
                  `no volume ${vol}`,
                  'tandemctl volume list shows the volumes',
                );
              }
              why = reason;
            } catch (err) {
              if (err instanceof CliError) throw err;
              // A node being killed or etcd electing: keep trying until the deadline.
              if (!(err instanceof AdminCallError)) throw err;
              const e = explain(err, 'status', g);
              const transient =
                e.exitCode === EXIT.unreachable || e.exitCode === EXIT.cluster || err.grpcCode === 14;
              if (!transient) throw err;
              why = e.message;
            }
            if (Date.now() >= deadline) {
              throw new CliError(
                EXIT.failed,
                `not reached within ${wait} s: ${why}`,
                'see tandemctl status and the node logs',
              );
            }
            await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
          }
        },
      ),
    );
}
