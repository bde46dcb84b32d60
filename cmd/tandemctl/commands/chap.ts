import type { Command } from 'commander';
import * as ops from '../../../src/admin/admin-ops.js';
import { action, connect, print, readSecret } from '../cli.js';
import { EXIT, usage } from '../errors.js';

/** tandemctl chap set|clear. */
export function register(program: Command): void {
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
            throw usage(
              'mutual CHAP needs both --mutual-user and --mutual-secret-file or --mutual-secret-env',
            );
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
}
