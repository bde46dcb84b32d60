import type { Command } from 'commander';
import { formatBytes, section } from '../../../src/admin/admin-format.js';
import * as ops from '../../../src/admin/admin-ops.js';
import { action, connect, parseIntArg, parseList, print, printJson } from '../cli.js';
import { EXIT, usage } from '../errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** tandemctl volume create|resize|set|replicas|delete|list. */
export function register(program: Command): void {
  // volume
  const volume = program.command('volume').description('create, resize, delete and list volumes');
  volume
    .command('create <id>')
    .description('create a volume (the desired state: nodes create its backing stores)')
    .requiredOption('--size <size>', 'size, e.g. 4G, 512M (binary units)')
    .option(
      '--kind <kind>',
      'replicated (one store per node, mirrored) or shared (one store every node opens)',
      'replicated',
    )
    .option('--block-size <bytes>', '512, 1024, 2048 or 4096', '512')
    .option('--path <path>', "backing file or block device (relative: under each node's dataDir)")
    .option('--standby', 'non-primary port groups report Standby instead of Active/Non-optimized')
    .option('--read-only', 'export the LU write-protected')
    .option('--replicas <nodes>', 'replicated: the nodes holding a replica, e.g. a,b')
    .option(
      '--min-in-sync <n>',
      'replicated: refuse writes while fewer than N copies are in sync (default 1: keep serving)',
    )
    .action(
      action(
        (id: string) => `volume create ${id}`,
        async (
          g,
          id: string,
          o: {
            size: string;
            kind: string;
            blockSize: string;
            path?: string;
            standby?: boolean;
            readOnly?: boolean;
            replicas?: string;
            minInSync?: string;
          },
        ) => {
          if (o.kind !== 'replicated' && o.kind !== 'shared')
            throw usage(`--kind ${o.kind}: expected replicated or shared`);
          const v = await ops.volumeCreate(connect(g), id, {
            size: o.size,
            kind: o.kind,
            blockSize: parseIntArg('--block-size', o.blockSize),
            ...(o.path ? { path: o.path } : {}),
            standby: o.standby === true,
            readOnly: o.readOnly === true,
            ...(o.replicas ? { replicas: parseList(o.replicas)! } : {}),
            ...(o.minInSync !== undefined
              ? { minInSync: parseIntArg('--min-in-sync', o.minInSync, 1, 32) }
              : {}),
          });
          if (g.json) printJson(v);
          else print(`volume ${id} created: ${o.kind}, ${formatBytes(v.size as number)}`);
          return EXIT.ok;
        },
      ),
    );
  volume
    .command('resize <id>')
    .description('grow a volume (nodes report CAPACITY DATA HAS CHANGED); shrinking needs --force')
    .requiredOption('--size <size>', 'new size, e.g. 8G')
    .option('--force', 'allow shrinking (the data past the new end is lost)')
    .action(
      action(
        (id: string) => `volume resize ${id}`,
        async (g, id: string, o: { size: string; force?: boolean }) => {
          const r = await ops.volumeResize(connect(g), id, o.size, o.force === true);
          if (g.json) printJson({ volume: id, ...r });
          else print(`volume ${id}: ${formatBytes(r.from)} → ${formatBytes(r.to)}`);
          return EXIT.ok;
        },
      ),
    );
  volume
    .command('set <id>')
    .description('change what changes live: --min-in-sync')
    .option(
      '--min-in-sync <n>',
      'replicated: writes need N copies in sync (the primary counts); with fewer they get DATA PROTECT (07h/27h/02h). 1: keep serving',
    )
    .action(
      action(
        (id: string) => `volume set ${id}`,
        async (g, id: string, o: { minInSync?: string }) => {
          if (o.minInSync === undefined) throw usage('volume set needs --min-in-sync N');
          const min = parseIntArg('--min-in-sync', o.minInSync, 1, 32);
          const v = await ops.volumeSet(connect(g), id, { minInSync: min });
          if (g.json) printJson(v);
          else print(`volume ${id}: minInSync ${min}`);
          return EXIT.ok;
        },
      ),
    );
  const replicas = volume
    .command('replicas')
    .description(
      "add or remove a replica of a replicated volume, live (tandemctl status shows each replica's state)",
    );
  replicas
    .command('add <id> <node>')
    .description('NODE gets a replica: resynced in full, then it joins the in-sync set')
    .option('--wait <seconds>', 'wait until the new replica is in sync (0: do not wait)', '0')
    .action(
      action(
        (id: string, node: string) => `volume replicas add ${id} ${node}`,
        async (g, id: string, node: string, o: { wait: string }) => {
          const wait = parseIntArg('--wait', o.wait);
          const c = connect(g);
          const now = (await c.status()).volumes.find((v) => v.id === id);
          const set = await ops.volumeReplicas(c, id, 'add', node, now?.replicas ?? []);
          if (!g.json) print(`volume ${id}: replicas ${set.join(',')}; ${node} is resynced, then joins`);
          const deadline = Date.now() + wait * 1000;
          let inSync = false;
          while (wait > 0 && !inSync) {
            const v = (await c.status()).volumes.find((x) => x.id === id);
            inSync = v?.inSync.includes(node) ?? false;
            if (inSync) break;
            if (Date.now() > deadline) {
              if (!g.json) print(`volume ${id}: ${node} not in sync after ${wait} s (see tandemctl status)`);
              return EXIT.failed;
            }
            await sleep(500);
          }
          if (g.json) printJson({ volume: id, replicas: set, inSync });
          else if (inSync) print(`volume ${id}: ${node} in sync`);
          return EXIT.ok;
        },
      ),
    );
  replicas
    .command('remove <id> <node>')
    .description("NODE's replica leaves the set (refused for the primary and for the last in-sync copy)")
    .action(
      action(
        (id: string, node: string) => `volume replicas remove ${id} ${node}`,
        async (g, id: string, node: string) => {
          const c = connect(g);
          const now = (await c.status()).volumes.find((v) => v.id === id);
          const set = await ops.volumeReplicas(c, id, 'remove', node, now?.replicas ?? []);
          if (g.json) printJson({ volume: id, replicas: set });
          else print(`volume ${id}: replicas ${set.join(',')} (${node}'s store is left on its disk)`);
          return EXIT.ok;
        },
      ),
    );
  volume
    .command('delete <id>')
    .description('delete a volume (refused while a LUN maps it); backing stores are left on disk')
    .action(
      action(
        (id: string) => `volume delete ${id}`,
        async (g, id: string) => {
          await ops.volumeDelete(connect(g), id);
          if (!g.json) print(`volume ${id} deleted`);
          return EXIT.ok;
        },
      ),
    );
  volume
    .command('list')
    .description('the configured volumes')
    .action(
      action('volume list', async (g) => {
        const c = connect(g);
        const [vols, luns] = await Promise.all([c.listConfig('volumes'), c.listConfig('luns')]);
        if (g.json) {
          printJson(vols.entries.map((e) => e.value));
          return EXIT.ok;
        }
        const mapped = (id: string) =>
          luns.entries
            .map((e) => e.value as unknown as ops.LunValue)
            .filter((l) => l.volume === id)
            .map((l) => `${l.target}/${l.lun}`)
            .join(',');
        print(
          section(
            'Volumes',
            ['ID', 'KIND', 'SIZE', 'BLOCK', 'PATH', 'FLAGS', 'REPLICAS', 'LUNS'],
            vols.entries.map((e) => {
              const v = e.value as Record<string, unknown>;
              const flags = [v.standby ? 'standby' : '', v.readOnly ? 'ro' : ''].filter(Boolean).join(',');
              return [
                e.name,
                String(v.kind ?? ''),
                typeof v.size === 'number' ? formatBytes(v.size) : '',
                String(v.blockSize ?? ''),
                String(v.path ?? ''),
                flags,
                Array.isArray(v.replicas) ? v.replicas.join(',') : '',
                mapped(e.name),
              ];
            }),
          ),
        );
        return EXIT.ok;
      }),
    );
}
