// npm run chaos -- [--faults N] [--seed S] [--kinds sigkill,power-both,…]: runs test/chaos/campaign.chaos.ts under vitest (which
// compiles the TypeScript helpers) with its own config; vitest would refuse the options itself.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    faults: { type: 'string', default: '200' },
    seed: { type: 'string' },
    kinds: { type: 'string' },
  },
});
const seed = values.seed ?? String(Math.floor(Math.random() * 2 ** 31));
for (const [k, v] of [
  ['faults', values.faults],
  ['seed', seed],
]) {
  if (!/^\d+$/.test(v)) {
    console.error(`chaos: bad --${k} ${v}: expected a whole number`);
    process.exit(2);
  }
}
console.log(`chaos: --faults ${values.faults} --seed ${seed}`);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const r = spawnSync('npx', ['vitest', 'run', '--config', 'test/chaos/vitest.config.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CHAOS_FAULTS: values.faults, CHAOS_SEED: seed, CHAOS_KINDS: values.kinds ?? '' },
});
process.exit(r.status ?? 1);
