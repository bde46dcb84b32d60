import type { Command } from 'commander';
import * as ops from '../../../src/admin/admin-ops.js';
import { action, connect, parseIntArg, parseList, print } from '../cli.js';
import { EXIT } from '../errors.js';

/** tandemctl acl add|remove|clear. */
export function register(program: Command): void {
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
}
