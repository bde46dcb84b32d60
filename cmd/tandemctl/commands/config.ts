import fs from 'node:fs';
import type { Command } from 'commander';
import { action, connect, print, printJson } from '../cli.js';
import { EXIT, usage } from '../errors.js';

/** tandemctl config export|import. */
export function register(program: Command): void {
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
}
