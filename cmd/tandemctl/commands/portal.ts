import type { Command } from 'commander';
import * as ops from '../../../src/admin/admin-ops.js';
import { action, connect, print } from '../cli.js';
import { EXIT } from '../errors.js';

/** tandemctl portal add|remove. */
export function register(program: Command): void {
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
}
