#!/usr/bin/env node
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { AdminCallError, AdminClient, DEFAULT_ADMIN_PORT } from '../src/admin/admin-client.js';
import {
  formatBytes,
  formatDuration,
  percent,
  progressBar,
  section,
  table,
} from '../src/admin/admin-format.js';
import * as ops from '../src/admin/admin-ops.js';
import { type ClusterStatusMsg, GRPC_STATUS_OF } from '../src/admin/admin-proto.js';
import { formatLatency, type Scrape, scrape, topRows } from '../src/admin/admin-top.js';
import { waitReason } from '../src/admin/admin-wait.js';
import { TandemError } from '../src/util/errors.js';

/** Exit statuses (also in --help). */
const EXIT = { ok: 0, failed: 1, usage: 2, differences: 3, unreachable: 4, cluster: 5 } as const;

const DEFAULT_ENDPOINT = `127.0.0.1:${DEFAULT_ADMIN_PORT}`;

/** A failure tandemctl reports as one line: `tandemctl: <what>: <why> — <hint>`. */
class CliError extends Error {
  readonly exitCode: number;
  readonly hint: string;
  constructor(exitCode: number, message: string, hint: string) {
    super(message);
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

const usage = (message: string, hint = 'see --help') => new CliError(EXIT.usage, message, hint);

interface Globals {
  endpoint: string;
  json: boolean;
  timeout: number;
}

function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals<{ endpoint: string; json?: boolean; timeout: string }>();
  const timeout = Number(o.timeout);
  if (!(timeout > 0)) throw usage(`--timeout ${o.timeout}: expected seconds greater than 0`);
  if (!/^(\[[0-9a-fA-F:]+\]|[^:\s/]+):\d{1,5}$/.test(o.endpoint)) {
    throw usage(`--endpoint ${o.endpoint}: expected HOST:PORT`, `e.g. --endpoint ${DEFAULT_ENDPOINT}`);
  }
  return { endpoint: o.endpoint, json: o.json === true, timeout };
}

let client: AdminClient | undefined;
function connect(g: Globals): AdminClient {
  client ??= new AdminClient(g.endpoint, { timeoutMs: g.timeout * 1000 });
  return client;
}

const print = (text: string) => process.stdout.write(`${text}\n`);
const printJson = (v: unknown) => print(JSON.stringify(v, null, 2));

/** Why a call did not reach the node, in words. */
function unreachableReason(err: AdminCallError, timeoutS: number): string {
  if (err.grpcCode === 4 /* DEADLINE_EXCEEDED */) return `no answer within ${timeoutS} s`;
  const m = /(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN)/.exec(
    err.message,
  );
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'unknown host',
    EAI_AGAIN: 'host name lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
  };
  if (m) return words[m[1]!]!;
  if (/Name resolution failed/.test(err.message)) return 'cannot resolve the host name';
  return err.message.replace(/^\d+ [A-Z_]+: /, '');
}

/** Maps anything an action threw to the exit status and the one line to print. */
function explain(err: unknown, what: string, g: Globals | undefined): CliError {
  if (err instanceof CliError) return new CliError(err.exitCode, `${what}: ${err.message}`, err.hint);
  if (err instanceof ops.RefusedError) return new CliError(EXIT.failed, `${what}: ${err.message}`, err.hint);
  if (err instanceof AdminCallError) {
    const details = err.message.replace(/\s+/g, ' ');
    if (err.unreachable) {
      return new CliError(
        EXIT.unreachable,
        `cannot reach ${err.endpoint}: ${unreachableReason(err, g?.timeout ?? 5)}`,
        'is tandemd running? check --endpoint/TANDEM_ENDPOINT',
      );
    }
    const code = err.tandemCode;
    if (code === 'TANDEM_ERR_CLUSTER_UNAVAILABLE') {
      return new CliError(
        EXIT.cluster,
        `${what}: cluster unavailable: ${details}`,
        'the node cannot reach etcd: check etcd and the network to it',
      );
    }
    const status = code === undefined ? err.grpcCode : (GRPC_STATUS_OF[code] ?? err.grpcCode);
    const hints: Record<number, string> = {
      3: 'fix the value and try again',
      5: 'check the name (list commands show what exists)',
      6: 'it exists already',
      9: 'see tandemctl status',
      10: 'it changed concurrently: try again',
      14: 'try again shortly; tandemctl status shows the cluster',
      12: 'is --endpoint the admin address of a tandemd of the same version as tandemctl?',
    };
    const suffix = code ? ` (${code})` : '';
    return new CliError(
      EXIT.failed,
      `${what}: ${details}${suffix}`,
      hints[status] ?? 'see the node log for details',
    );
  }
  if (err instanceof TandemError)
    return new CliError(EXIT.failed, `${what}: ${err.message}`, 'fix it and try again');
  const msg = err instanceof Error ? err.message : String(err);
  return new CliError(EXIT.failed, `${what}: ${msg}`, 'this looks like a bug in tandemctl: please report it');
}

function fail(e: CliError): never {
  const line = `tandemctl: ${e.message} — ${e.hint}`.replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`${line}\n`);
  client?.close();
  process.exit(e.exitCode);
}

/** Wraps an action: resolves globals, runs, reports errors as one line with the right exit status. */
function action<A extends unknown[]>(
  what: string | ((...args: string[]) => string),
  fn: (g: Globals, ...args: A) => Promise<number | undefined>,
) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const positional = args.slice(0, -1) as A;
    const label =
      typeof what === 'string'
        ? what
        : what(...(positional.filter((a) => typeof a === 'string') as string[]));
    let g: Globals | undefined;
    try {
      g = globals(cmd);
      const code = (await fn(g, ...positional)) ?? EXIT.ok;
      client?.close();
      process.exit(code);
    } catch (err) {
      fail(explain(err, label, g));
    }
  };
}

function parseIntArg(name: string, text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text)) throw usage(`${name} ${text}: expected a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw usage(`${name} ${text}: expected ${min} to ${max}`);
  return n;
}

function parseList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function readSecret(file: string | undefined, env: string | undefined, what: string): string | undefined {
  if (file !== undefined && env !== undefined)
    throw usage(`give ${what} with a file or an environment variable, not both`);
  if (file !== undefined) {
    try {
      return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw usage(
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        'check the file',
      );
    }
  }
  if (env !== undefined) {
    const v = process.env[env];
    if (v === undefined || v === '') throw usage(`environment variable ${env} is not set`, 'export it first');
    return v;
  }
  return undefined;
}

// ---- status -------------------------------------------------------------------------------------

function showStatus(s: ClusterStatusMsg): string {
  const now = Date.now();
  const parts: string[] = [`Cluster: ${s.mode} mode, answered by ${s.node || '?'}`];
  parts.push(
    section(
      'Nodes',
      ['NAME', 'STATE', 'PORTALS', 'ADMIN', 'TPG', 'UP'],
      s.nodes.map((n) => [
        n.name,
        n.up ? 'up' : 'down',
        n.portals.join(','),
        n.admin,
        n.targetPortGroupId || '',
        n.up && n.upSinceMs > 0 ? formatDuration((now - n.upSinceMs) / 1000) : '',
      ]),
    ),
  );
  parts.push(
    section(
      'Volumes',
      ['ID', 'SIZE', 'KIND', 'REPLICAS', 'IN-SYNC', 'PRIMARY', 'EPOCH', 'RESYNC', 'LUNS'],
      s.volumes.map((v) => [
        v.id,
        formatBytes(v.size),
        v.kind,
        v.replicas.join(','),
        v.inSync.join(','),
        v.primary || 'none',
        v.epoch || '',
        v.resyncTotalBytes > 0 ? percent(v.resyncDoneBytes, v.resyncTotalBytes) : '',
        v.luns.join(','),
      ]),
    ),
  );
  const nodes = [...new Set(s.volumes.flatMap((v) => v.portGroups.map((p) => p.node)))].sort();
  parts.push(
    section(
      'Port groups (ALUA)',
      [
        'VOLUME',
        ...nodes.map((n) => {
          const g = s.volumes.flatMap((v) => v.portGroups).find((p) => p.node === n);
          return g ? `${n} (tpg ${g.targetPortGroupId})` : n;
        }),
      ],
      s.volumes
        .filter((v) => v.portGroups.length > 0)
        .map((v) => [v.id, ...nodes.map((n) => v.portGroups.find((p) => p.node === n)?.state ?? '')]),
    ),
  );
  parts.push(
    section(
      'Sessions',
      ['NODE', 'INITIATOR', 'ISID', 'TARGET', 'PORTAL', 'AGE', 'CONNS'],
      s.sessions.map((x) => [
        x.node,
        x.initiator,
        x.isid,
        x.target,
        x.portal,
        x.sinceMs > 0 ? formatDuration((now - x.sinceMs) / 1000) : '',
        x.connections,
      ]),
    ),
  );
  for (const w of s.warnings) parts.push(`warning: ${w}`);
  return parts.join('\n\n');
}

// ---- the program --------------------------------------------------------------------------------

const program = new Command()
  .name('tandemctl')
  .description("Administers a Tandem cluster (or one embedded node) through a node's admin API.")
  .option(
    '-e, --endpoint <host:port>',
    'admin API of any node (env TANDEM_ENDPOINT)',
    process.env.TANDEM_ENDPOINT || DEFAULT_ENDPOINT,
  )
  .option('--json', 'machine-readable output (JSON)')
  .option('--timeout <seconds>', 'deadline of each call to the node', '5')
  .addHelpText(
    'after',
    `
The default endpoint is ${DEFAULT_ENDPOINT} (tandemd's default admin address).

Exit status:
  0  done
  1  the operation failed or was refused (one line on stderr says why)
  2  bad usage
  3  verify found differences between replicas
  4  the node could not be reached (not running, wrong --endpoint, network)
  5  the cluster (etcd) is unavailable to the node`,
  )
  .showSuggestionAfterError(true)
  .exitOverride()
  .configureOutput({
    outputError: (str, write) => {
      const msg = str
        .replace(/^error: /, '')
        .trim()
        .split('\n')[0];
      write(`tandemctl: usage: ${msg} — see tandemctl --help\n`);
    },
  });

program
  .command('status')
  .description('nodes, volumes, ALUA state of every port group, sessions')
  .action(
    action('status', async (g) => {
      const s = await connect(g).status();
      print(g.json ? JSON.stringify(s, null, 2) : showStatus(s));
      return EXIT.ok;
    }),
  );

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

// target
const target = program.command('target').description('create, delete and list targets');
target
  .command('create <iqn>')
  .description("create a target (exported through every node's portals)")
  .option('--alias <alias>', 'TargetAlias sent at login')
  .action(
    action(
      (iqn: string) => `target create ${iqn}`,
      async (g, iqn: string, o: { alias?: string }) => {
        await ops.targetCreate(connect(g), iqn, o.alias);
        if (!g.json) print(`target ${iqn} created`);
        return EXIT.ok;
      },
    ),
  );
target
  .command('delete <iqn>')
  .description('delete a target (refused while LUNs map to it unless --force)')
  .option('--force', 'unmap its LUNs too')
  .action(
    action(
      (iqn: string) => `target delete ${iqn}`,
      async (g, iqn: string, o: { force?: boolean }) => {
        const unmapped = await ops.targetDelete(connect(g), iqn, o.force === true);
        if (!g.json) {
          print(
            `target ${iqn} deleted${unmapped.length > 0 ? ` (unmapped LUN ${unmapped.map((l) => l.lun).join(', ')})` : ''}`,
          );
        }
        return EXIT.ok;
      },
    ),
  );
target
  .command('list')
  .description('targets with their LUNs, ACL and CHAP user (never secrets)')
  .action(
    action('target list', async (g) => {
      const c = connect(g);
      const [targets, luns] = await Promise.all([c.listConfig('targets'), c.listConfig('luns')]);
      const views = targets.entries.map((e) => {
        const t = e.value as unknown as ops.TargetValue;
        return {
          iqn: t.iqn,
          alias: t.alias ?? '',
          luns: luns.entries
            .map((x) => x.value as unknown as ops.LunValue)
            .filter((l) => l.target === t.iqn)
            .map((l) => l.lun)
            .sort((a, b) => a - b),
          acl: t.acl ?? null,
          aclLuns: t.aclLuns ?? {},
          chapUser: t.auth?.chap.user ?? null,
          mutualChapUser: t.auth?.mutualChap?.user ?? null,
        };
      });
      if (g.json) {
        printJson(views);
        return EXIT.ok;
      }
      print(
        section(
          'Targets',
          ['IQN', 'ALIAS', 'LUNS', 'ACL', 'CHAP'],
          views.map((t) => [
            t.iqn,
            t.alias,
            t.luns.join(','),
            t.acl === null
              ? 'any initiator'
              : t.acl.length === 0
                ? 'no initiator'
                : t.acl.map((i) => (t.aclLuns[i] ? `${i}[${t.aclLuns[i]!.join(',')}]` : i)).join(' '),
            t.chapUser ? `${t.chapUser}${t.mutualChapUser ? ` (mutual: ${t.mutualChapUser})` : ''}` : 'off',
          ]),
        ),
      );
      return EXIT.ok;
    }),
  );

// acl
const acl = program.command('acl').description('which initiators may log in to a target');
acl
  .command('add <target> <initiator>')
  .description('allow INITIATOR (an IQN); the first entry closes the target to everyone else')
  .option('--luns <list>', "only these LUNs, e.g. 0,1 (desired state: see the node's release notes)")
  .action(
    action(
      (t: string, i: string) => `acl add ${t} ${i}`,
      async (g, t: string, initiator: string, o: { luns?: string }) => {
        const luns = parseList(o.luns)?.map((x) => parseIntArg('--luns', x, 0, 16383));
        const v = await ops.aclAdd(connect(g), t, initiator, luns);
        if (!g.json) print(`${t}: ACL ${v.acl?.join(' ')}`);
        return EXIT.ok;
      },
    ),
  );
acl
  .command('remove <target> <initiator>')
  .description('disallow INITIATOR (removing the last one admits no initiator: see acl clear)')
  .action(
    action(
      (t: string, i: string) => `acl remove ${t} ${i}`,
      async (g, t: string, initiator: string) => {
        const v = await ops.aclRemove(connect(g), t, initiator);
        if (!g.json) {
          print(
            v.acl && v.acl.length > 0
              ? `${t}: ACL ${v.acl.join(' ')}`
              : `${t}: ACL empty — no initiator may log in (tandemctl acl clear ${t} admits every initiator)`,
          );
        }
        return EXIT.ok;
      },
    ),
  );
acl
  .command('clear <target>')
  .description('remove the ACL: every initiator may log in')
  .action(
    action(
      (t: string) => `acl clear ${t}`,
      async (g, t: string) => {
        await ops.aclClear(connect(g), t);
        if (!g.json) print(`${t}: every initiator may log in`);
        return EXIT.ok;
      },
    ),
  );

// chap
const chap = program.command('chap').description("CHAP authentication of a target's logins");
chap
  .command('set <target>')
  .description('require CHAP (secrets are 12 to 16 bytes; never given on the command line)')
  .requiredOption('--user <name>', 'CHAP name the initiator logs in with')
  .option('--secret-file <file>', 'file holding the secret (one trailing newline ignored)')
  .option('--secret-env <var>', 'environment variable holding the secret')
  .option('--mutual-user <name>', 'mutual CHAP: the name the target answers with')
  .option('--mutual-secret-file <file>', 'mutual CHAP secret, from a file')
  .option('--mutual-secret-env <var>', 'mutual CHAP secret, from an environment variable')
  .action(
    action(
      (t: string) => `chap set ${t}`,
      async (
        g,
        t: string,
        o: {
          user: string;
          secretFile?: string;
          secretEnv?: string;
          mutualUser?: string;
          mutualSecretFile?: string;
          mutualSecretEnv?: string;
        },
      ) => {
        const secret = readSecret(o.secretFile, o.secretEnv, 'the secret');
        if (secret === undefined) throw usage('chap set needs --secret-file or --secret-env');
        const mutualSecret = readSecret(o.mutualSecretFile, o.mutualSecretEnv, 'the mutual secret');
        if ((mutualSecret === undefined) !== (o.mutualUser === undefined)) {
          throw usage('mutual CHAP needs both --mutual-user and --mutual-secret-file or --mutual-secret-env');
        }
        await ops.chapSet(connect(g), t, {
          user: o.user,
          secret,
          ...(o.mutualUser !== undefined && mutualSecret !== undefined
            ? { mutualUser: o.mutualUser, mutualSecret }
            : {}),
        });
        if (!g.json)
          print(`${t}: CHAP required (user ${o.user}${o.mutualUser ? `, mutual ${o.mutualUser}` : ''})`);
        return EXIT.ok;
      },
    ),
  );
chap
  .command('clear <target>')
  .description('stop requiring CHAP')
  .action(
    action(
      (t: string) => `chap clear ${t}`,
      async (g, t: string) => {
        await ops.chapClear(connect(g), t);
        if (!g.json) print(`${t}: CHAP off`);
        return EXIT.ok;
      },
    ),
  );

// portal
const portal = program
  .command('portal')
  .description('the iSCSI portals a node should listen on (desired state)');
portal
  .command('add <node> <host:port>')
  .description("add a portal to NODE's desired portals")
  .action(
    action(
      (n: string, hp: string) => `portal add ${n} ${hp}`,
      async (g, node: string, hp: string) => {
        const portals = await ops.portalAdd(connect(g), node, hp);
        if (!g.json) print(`node ${node}: portals ${portals.join(' ')}`);
        return EXIT.ok;
      },
    ),
  );
portal
  .command('remove <node> <host:port>')
  .description("remove a portal from NODE's desired portals")
  .action(
    action(
      (n: string, hp: string) => `portal remove ${n} ${hp}`,
      async (g, node: string, hp: string) => {
        const rest = await ops.portalRemove(connect(g), node, hp);
        if (!g.json) print(`node ${node}: portals ${rest.length > 0 ? rest.join(' ') : 'none configured'}`);
        return EXIT.ok;
      },
    ),
  );

// operations
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
              throw new CliError(EXIT.failed, `no volume ${vol}`, 'tandemctl volume list shows the volumes');
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

// config
const config = program
  .command('config')
  .description('save and restore the whole cluster configuration (YAML)');
config
  .command('export')
  .description('print the configuration as one YAML document (CHAP secrets hidden)')
  .option('--show-secrets', 'include CHAP secrets')
  .option('-o, --output <file>', 'write to FILE instead of stdout (mode 0600)')
  .action(
    action('config export', async (g, o: { showSecrets?: boolean; output?: string }) => {
      const r = await connect(g).exportConfig(o.showSecrets === true);
      if (o.output) fs.writeFileSync(o.output, r.yaml, { mode: 0o600 });
      else process.stdout.write(r.yaml);
      return EXIT.ok;
    }),
  );
config
  .command('import <file>')
  .description(
    'replace the whole configuration with FILE\'s ("-": stdin); hidden secrets keep their stored value',
  )
  .option('--dry-run', 'show what would change, change nothing')
  .action(
    action(
      (f: string) => `config import ${f}`,
      async (g, file: string, o: { dryRun?: boolean }) => {
        let yaml: string;
        try {
          yaml = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
        } catch (err) {
          throw usage(
            `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
            'check the file name',
          );
        }
        const r = await connect(g).importConfig(yaml, o.dryRun === true, Math.max(g.timeout, 15) * 1000);
        if (g.json) {
          printJson(r);
          return EXIT.ok;
        }
        for (const k of r.added) print(`+ ${k}`);
        for (const k of r.changed) print(`~ ${k}`);
        for (const k of r.removed) print(`- ${k}`);
        const summary = `${r.added.length} added, ${r.changed.length} changed, ${r.removed.length} removed, ${r.unchanged} unchanged`;
        print(o.dryRun ? `dry run: would apply ${summary}; nothing changed` : `imported: ${summary}`);
        return EXIT.ok;
      },
    ),
  );

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

async function main(): Promise<void> {
  try {
    await program.parseAsync();
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help / --version: 0; any other commander error was already printed as one line.
      process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
    }
    fail(explain(err, 'tandemctl', undefined));
  }
}

void main();
