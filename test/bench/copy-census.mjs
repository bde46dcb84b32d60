// node test/bench/copy-census.mjs [--tree DIR] [--cluster] [--writes N] [--out FILE]
//
// The write path's copy census (issue #11 check 3): starts DIR's built tandemd (default: this
// checkout; run `npm run build` there first) under test/bench/copy-census-preload.mjs, writes
// 4 KiB and 64 KiB WRITE(10)s over iSCSI (immediate data, R2T + one Data-Out, four 16 KiB R2T
// bursts; QD 1 and QD 32) and prints the JavaScript copies of written data per written byte in
// that tandemd, split into the project's own code and libraries/Node, and by call site.
// --cluster: a 2-node replicated cluster of DIR (deploy/local/cluster.mjs up --kind replicated,
// plaintext) instead, counting in the primary a and the replica b (about 1 min).
// --writes N: writes per case at QD 1 (default 64; QD 32 does 4 N). --out FILE: the raw counts
// as JSON. It runs test/bench/copy-census.census.ts under vitest (which compiles the TypeScript
// test initiator) with test/bench/vitest.config.ts. Takes about 15 s.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    tree: { type: 'string' },
    cluster: { type: 'boolean', default: false },
    writes: { type: 'string', default: '64' },
    out: { type: 'string' },
  },
});
if (!/^[1-9]\d*$/.test(values.writes)) {
  console.error(`copy-census: bad --writes ${values.writes}: expected a positive whole number`);
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const r = spawnSync('npx', ['vitest', 'run', '--config', 'test/bench/vitest.config.ts', '--silent=false'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    CENSUS_TREE: values.tree ? path.resolve(values.tree) : '',
    CENSUS_WRITES: values.writes,
    CENSUS_CLUSTER: values.cluster ? '1' : '',
    CENSUS_OUT: values.out ? path.resolve(values.out) : '',
  },
});
process.exit(r.status ?? 1);
