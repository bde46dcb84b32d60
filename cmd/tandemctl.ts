#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { DEFAULT_ENDPOINT, fail } from './tandemctl/cli.js';
import { register as aclCommands } from './tandemctl/commands/acl.js';
import { register as certsCommands } from './tandemctl/commands/certs.js';
import { register as chapCommands } from './tandemctl/commands/chap.js';
import { register as configCommands } from './tandemctl/commands/config.js';
import { register as lunCommands } from './tandemctl/commands/lun.js';
import { register as portalCommands } from './tandemctl/commands/portal.js';
import { register as resyncCommands } from './tandemctl/commands/resync.js';
import { register as statusCommands } from './tandemctl/commands/status.js';
import { register as switchoverCommands } from './tandemctl/commands/switchover.js';
import { register as targetCommands } from './tandemctl/commands/target.js';
import { register as topCommands } from './tandemctl/commands/top.js';
import { register as verifyCommands } from './tandemctl/commands/verify.js';
import { register as volumeCommands } from './tandemctl/commands/volume.js';
import { register as waitCommands } from './tandemctl/commands/wait.js';
import { EXIT, explain } from './tandemctl/errors.js';

/** The commander program: global options, help text, one-line usage errors, every command group. */
function buildProgram(): Command {
  const program = new Command()
    .name('tandemctl')
    .description("Administers a Tandem cluster (or one embedded node) through a node's admin API.")
    .option(
      '-e, --endpoint <host:port>',
      'admin API of any node (env TANDEM_ENDPOINT)',
      process.env.TANDEM_ENDPOINT || DEFAULT_ENDPOINT,
    )
    .option('--ca <file>', 'the cluster CA the node certificate must chain to (env TANDEM_CA)')
    .option('--cert <file>', 'client certificate, role admin or read-only (env TANDEM_CERT)')
    .option('--key <file>', 'its private key (env TANDEM_KEY)')
    .option('--tls-dir <dir>', 'a directory with ca.crt, admin.crt, admin.key (env TANDEM_TLS_DIR)')
    .option('--insecure', 'plaintext, for a node with insecure: true (env TANDEM_INSECURE=1)')
    .option('--json', 'machine-readable output (JSON)')
    .option('--timeout <seconds>', 'deadline of each call to the node', '5')
    .addHelpText(
      'after',
      `
The default endpoint is ${DEFAULT_ENDPOINT} (tandemd's default admin address).

Credentials (TLS with a client certificate; docs/security.md), the first that applies:
  --insecure / TANDEM_INSECURE=1          plaintext (a node with insecure: true)
  --ca --cert --key / TANDEM_CA, TANDEM_CERT, TANDEM_KEY
  --tls-dir DIR / TANDEM_TLS_DIR          DIR/ca.crt, DIR/admin.crt, DIR/admin.key
  ./data/tls                              an embedded node's own, started here (quick start)
  none                                    plaintext
deploy/local/cluster env --dir DIR prints the export lines of a local cluster.

Exit status:
  0  done
  1  the operation failed or was refused (one line on stderr says why)
  2  bad usage
  3  verify found differences between replicas
  4  the node could not be reached (not running, wrong --endpoint, network)
  5  the cluster (etcd) is unavailable to the node
  6  refused for credentials: none or wrong ones, another CA, or a role that does not allow it`,
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
  statusCommands(program);
  volumeCommands(program);
  lunCommands(program);
  targetCommands(program);
  aclCommands(program);
  chapCommands(program);
  portalCommands(program);
  switchoverCommands(program);
  verifyCommands(program);
  waitCommands(program);
  resyncCommands(program);
  configCommands(program);
  topCommands(program);
  certsCommands(program);
  return program;
}

const program = buildProgram();

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
