import type { Command } from 'commander';
import type { ClientRole } from '../../../src/security/ca.js';
import { initCaDir, issueClientFiles, issueNodeFiles } from '../../../src/security/cert-files.js';
import { action, print } from '../cli.js';
import { EXIT, usage } from '../errors.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** Local work on a certificate directory: no node is called (docs/security.md). */
function local<A extends unknown[]>(what: string, fn: (...args: A) => Promise<void>) {
  return action(what, async (_g, ...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if ((err as { exitCode?: number }).exitCode !== undefined) throw err;
      throw usage((err as Error).message, 'see tandemctl certs --help');
    }
    return EXIT.ok;
  });
}

/** tandemctl certs init | issue node | issue client. */
export function register(program: Command): void {
  const certs = program
    .command('certs')
    .description('cluster CA and certificates (PEM files in --dir; see docs/security.md)');
  certs
    .command('init')
    .description('create a new cluster CA: DIR/ca.crt and DIR/ca.key (0600); never overwrites')
    .requiredOption('--dir <dir>', 'certificate directory')
    .option('--name <cn>', 'CA subject CN', 'Tandem cluster CA')
    .action(
      local('certs init', async (o: { dir: string; name: string }) => {
        const f = await initCaDir(o.dir, o.name);
        print(`${f.cert}\n${f.key}`);
      }),
    );
  const issue = certs.command('issue').description('issue a certificate signed by DIR/ca.key');
  issue
    .command('node <name>')
    .description('node certificate (serves and dials node to node): DIR/NAME.crt, DIR/NAME.key')
    .requiredOption('--dir <dir>', 'certificate directory')
    .option('--ip <ip>', 'IP address the node is reached at (repeatable)', collect, [])
    .option('--dns <name>', 'DNS name the node is reached at (repeatable)', collect, [])
    .action(
      local('certs issue node', async (name: string, o: { dir: string; ip: string[]; dns: string[] }) => {
        const f = await issueNodeFiles(o.dir, name, { ip: o.ip, dns: o.dns });
        print(`${f.cert}\n${f.key}`);
      }),
    );
  issue
    .command('client <name>')
    .description('client certificate for tandemctl: DIR/NAME.crt, DIR/NAME.key')
    .requiredOption('--dir <dir>', 'certificate directory')
    .requiredOption('--role <role>', 'admin | read-only')
    .action(
      local('certs issue client', async (name: string, o: { dir: string; role: string }) => {
        if (o.role !== 'admin' && o.role !== 'read-only') {
          throw usage(`--role ${o.role}: expected admin or read-only`);
        }
        const f = await issueClientFiles(o.dir, name, o.role as ClientRole);
        print(`${f.cert}\n${f.key}`);
      }),
    );
}
