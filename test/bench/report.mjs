// JSON helpers for test/bench/replicated.sh (plain Node.js: jq is not assumed to be installed).
//
//   node report.mjs in-sync STATUS_JSON NODE...
//       exit 0 if `tandemctl status --json` (the file STATUS_JSON) shows volumes[0] with every
//       NODE in inSync and NODE[0] as its primary; else print what it shows and exit 1
//   node report.mjs table REPLICATED_PERF_JSON [SINGLE_PERF_JSON]
//       print the replicated-write table: per workload of the replicated run, its median IOPS,
//       the ratio to single-node Tandem's median IOPS for the same workload (SINGLE_PERF_JSON,
//       i.e. perf.json of part 1; "-" if absent or not measured there) and the ratio to tgt's
//       median IOPS measured in the replicated run; then the 4 KiB aim line
//
// perf.json (../shared/tools/perf --out DIR): { workloads: [ { name, project: { iops, ... },
// tgt: { iops, ... }, ratio }, ... ] } where iops is the median over rounds (null if every run
// failed) and ratio = project/tgt (rounded to 3 places; 0 if the project failed).
import fs from 'node:fs';

const AIM = 0.6;
const AIM_WORKLOAD = 'seqwrite-4k-qd32';

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function inSync(file, nodes) {
  let s;
  try {
    s = readJson(file);
  } catch (err) {
    console.log(`status not readable: ${err.message}`);
    return 1;
  }
  const v = s.volumes?.[0];
  if (!v) {
    console.log('no volume in status');
    return 1;
  }
  const have = new Set(v.inSync ?? []);
  const ok = nodes.every((n) => have.has(n)) && v.primary === nodes[0];
  if (!ok) {
    const resync = v.resyncTotalBytes ? `, resync ${v.resyncDoneBytes ?? 0}/${v.resyncTotalBytes} bytes` : '';
    console.log(`volume ${v.id}: primary ${v.primary ?? '-'}, inSync [${[...have].join(', ')}]${resync}`);
  }
  return ok ? 0 : 1;
}

const byName = (doc) => new Map((doc?.workloads ?? []).map((w) => [w.name, w]));
const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const ratio = (a, b) => (a !== null && b ? a / b : null);
// Rounds half to even, as perf's Python table does, so both tables show the same IOPS.
const roundEven = (x) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));
const fmtIops = (x) => (x === null ? 'FAILED' : roundEven(x).toLocaleString('en-US'));
const fmtRatio = (x) => (x === null ? '-' : x.toFixed(2));

function table(replFile, singleFile) {
  const repl = readJson(replFile);
  const single = singleFile && fs.existsSync(singleFile) ? readJson(singleFile) : undefined;
  const singles = byName(single);
  const head = 'replicated (2 nodes, protocol C)';
  const rows = (repl.workloads ?? []).map((w) => {
    const iops = num(w.project?.iops);
    const s = singles.get(w.name);
    return {
      name: w.name,
      iops,
      vsSingle: ratio(iops, num(s?.project?.iops)),
      vsTgt: ratio(iops, num(w.tgt?.iops)),
    };
  });
  const wn = Math.max(head.length, ...rows.map((r) => r.name.length)) + 2;
  const line = (a, b, c, d) => `${a.padEnd(wn)}${b.padStart(8)}   ${c.padEnd(22)}  ${d}`;
  console.log(line(head, 'IOPS', 'vs single-node Tandem', 'vs tgt'));
  for (const r of rows) console.log(line(r.name, fmtIops(r.iops), fmtRatio(r.vsSingle), fmtRatio(r.vsTgt)));
  if (!single)
    console.log(
      '(vs single-node Tandem: "-", no single-node perf.json; see TANDEM_BENCH_SINGLE_JSON in replicated.sh)',
    );
  const aim = rows.find((r) => r.name === AIM_WORKLOAD);
  if (aim) {
    const verdict = aim.vsTgt === null ? '' : aim.vsTgt >= AIM ? ', met' : ', below the aim';
    console.log(`replicated 4k write vs tgt: ${fmtRatio(aim.vsTgt)} (aim ≥ ${AIM.toFixed(2)}${verdict})`);
  }
  return 0;
}

const [cmd, ...args] = process.argv.slice(2);
let rc = 2;
if (cmd === 'in-sync' && args.length >= 2) rc = inSync(args[0], args.slice(1));
else if (cmd === 'table' && args.length >= 1 && args.length <= 2) rc = table(args[0], args[1]);
else
  console.error(
    'usage: report.mjs in-sync STATUS_JSON NODE... | table REPLICATED_PERF_JSON [SINGLE_PERF_JSON]',
  );
process.exit(rc);
