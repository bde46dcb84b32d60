import type { Command } from 'commander';
import { section } from '../../../src/admin/admin-format.js';
import * as ops from '../../../src/admin/admin-ops.js';
import { action, connect, print, printJson } from '../cli.js';
import { EXIT } from '../errors.js';

/** tandemctl target create|delete|list. */
export function register(program: Command): void {
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
}
