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
//   node report.mjs tables OUT_DIR [SINGLE_PERF_JSON] [--writes-only]
//       the tables of replicated.sh from OUT_DIR/{write,primary,forwarded}/WORKLOAD/{perf.json,
//       cpu.tsv}: writes (IOPS, vs single-node, vs tgt, CPU-us/IO of the primary and of all
//       nodes) and, if measured, reads through the primary and forwarded by b (IOPS, vs tgt,
//       CPU-us/IO of the primary a and of the forwarder b). A node's CPU-us/IO is perf's
//       CPU-us/IO over all nodes (--project-pids) times that node's share of the nodes' CPU
//       ticks (cpu.tsv: "NODE BEFORE AFTER", /proc/PID/stat utime+stime around the perf run)
//   node report.mjs tls OUT_DIR
//       replicated-tls.sh's table from OUT_DIR/{tls,insecure}/write/WORKLOAD/perf.json: per write
//       workload the median IOPS and CPU-us/IO (both nodes, perf --project-pids) with TLS and
//       with insecure: true, their ratios TLS/insecure, and the line "TLS cost, CPU time per
//       I/O of both nodes: 4k +x.x %, 64k +y.y % (aim ≤ 10 %…)"; exit 1 if nothing was measured
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

function readRun(dir) {
  const perf = readJson(`${dir}/perf.json`);
  const w = perf.workloads?.[0];
  const ticks = new Map();
  if (fs.existsSync(`${dir}/cpu.tsv`)) {
    for (const l of fs.readFileSync(`${dir}/cpu.tsv`, 'utf8').split('\n')) {
      const [n, b, a] = l.trim().split(/\s+/);
      if (n && a !== undefined) ticks.set(n, Math.max(0, Number(a) - Number(b)));
    }
  }
  const all = num(w?.project?.cpu_us_per_io);
  const sum = [...ticks.values()].reduce((x, y) => x + y, 0);
  const share = (n) => (all !== null && sum > 0 && ticks.has(n) ? (all * ticks.get(n)) / sum : null);
  return {
    name: w?.name,
    iops: num(w?.project?.iops),
    tgt: num(w?.tgt?.iops),
    all,
    share,
    nodes: [...ticks.keys()],
  };
}

function runsOf(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((d) => fs.existsSync(`${dir}/${d}/perf.json`))
    .sort((x, y) => ORDER.indexOf(x) - ORDER.indexOf(y))
    .map((d) => readRun(`${dir}/${d}`));
}

// perf's workload order (its --help), so the tables list them as perf does
const ORDER = [
  'seqwrite-4k-qd32',
  'seqread-4k-qd32',
  'seqwrite-64k-qd16',
  'seqread-64k-qd16',
  'randread-4k-qd32',
  'seqread-128k-qd32',
];
const fmtCpu = (x) => (x === null ? '-' : x.toFixed(1));

function tables(out, singleFile, writesOnly) {
  const single = singleFile && fs.existsSync(singleFile) ? readJson(singleFile) : undefined;
  const singles = byName(single);
  const writes = runsOf(`${out}/write`);
  if (writes.length === 0) return 1;
  const n = writes[0].nodes.length || 2;
  const head = `replicated (${n} nodes, protocol C)`;
  const wn = Math.max(head.length, ...writes.map((r) => r.name.length)) + 2;
  const line = (...c) =>
    `${c[0].padEnd(wn)}${c[1].padStart(8)}   ${c[2].padEnd(22)}  ${c[3].padEnd(6)}  ${c[4].padStart(16)}  ${c[5].padStart(16)}`;
  console.log(
    line(head, 'IOPS', 'vs single-node Tandem', 'vs tgt', 'CPU-us/IO prim.', `CPU-us/IO ${n} nodes`),
  );
  for (const r of writes) {
    const s = singles.get(r.name);
    const vsS = ratio(r.iops, num(s?.project?.iops));
    console.log(
      line(
        r.name,
        fmtIops(r.iops),
        fmtRatio(vsS),
        fmtRatio(ratio(r.iops, r.tgt)),
        fmtCpu(r.share('a')),
        fmtCpu(r.all),
      ),
    );
  }
  if (!single)
    console.log(
      '(vs single-node Tandem: "-", no single-node perf.json; see TANDEM_BENCH_SINGLE_JSON in replicated.sh)',
    );
  const aim = writes.find((r) => r.name === AIM_WORKLOAD);
  if (aim) {
    const v = ratio(aim.iops, aim.tgt);
    const verdict = v === null ? '' : v >= AIM ? ', met' : ', below the aim';
    console.log(`replicated ${n}-way 4k write vs tgt: ${fmtRatio(v)} (aim ≥ ${AIM.toFixed(2)}${verdict})`);
  }
  if (writesOnly) return 0;
  const reads = [
    ...runsOf(`${out}/primary`).map((r) => ['primary', r]),
    ...runsOf(`${out}/forwarded`).map((r) => ['forwarded (b)', r]),
  ];
  if (reads.length > 0) {
    const rn = Math.max(...reads.map(([, r]) => r.name.length)) + 2;
    const rl = (...c) =>
      `${c[0].padEnd(15)}${c[1].padEnd(rn)}${c[2].padStart(8)}  ${c[3].padStart(6)}  ${c[4].padStart(17)}  ${c[5].padStart(19)}`;
    console.log();
    console.log(rl('reads: path', 'workload', 'IOPS', 'vs tgt', 'CPU-us/IO prim. a', 'CPU-us/IO forwarder'));
    for (const [p, r] of reads)
      console.log(
        rl(
          p,
          r.name,
          fmtIops(r.iops),
          fmtRatio(ratio(r.iops, r.tgt)),
          fmtCpu(r.share('a')),
          p === 'primary' ? '-' : fmtCpu(r.share('b')),
        ),
      );
  }
  return 0;
}

const TLS_AIM = 0.1;
const fmtPct = (x) => (x === null ? '-' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} %`);

function tlsTable(out) {
  const tls = new Map(runsOf(`${out}/tls/write`).map((r) => [r.name, r]));
  const plain = new Map(runsOf(`${out}/insecure/write`).map((r) => [r.name, r]));
  const names = ORDER.filter((n) => tls.has(n) || plain.has(n));
  if (names.length === 0) return 1;
  const head = 'replicated 2 nodes: TLS vs insecure';
  const wn = Math.max(head.length, ...names.map((n) => n.length)) + 2;
  const line = (...c) =>
    `${c[0].padEnd(wn)}${c[1].padStart(9)}  ${c[2].padStart(13)}  ${c[3].padStart(5)}  ${c[4].padStart(13)}  ${c[5].padStart(18)}  ${c[6].padStart(5)}`;
  console.log(
    line(head, 'IOPS TLS', 'IOPS insecure', 'ratio', 'CPU-us/IO TLS', 'CPU-us/IO insecure', 'ratio'),
  );
  const costs = [];
  for (const n of names) {
    const t = tls.get(n);
    const p = plain.get(n);
    const cpu = ratio(t?.all ?? null, p?.all ?? null);
    console.log(
      line(
        n,
        t ? fmtIops(t.iops) : '-',
        p ? fmtIops(p.iops) : '-',
        fmtRatio(ratio(t?.iops ?? null, p?.iops ?? null)),
        fmtCpu(t?.all ?? null),
        fmtCpu(p?.all ?? null),
        fmtRatio(cpu),
      ),
    );
    costs.push([n.replace(/^seqwrite-(\d+k)-.*$/, '$1'), cpu === null ? null : cpu - 1]);
  }
  const measured = costs.filter(([, c]) => c !== null);
  const verdict =
    measured.length === 0 ? '' : measured.every(([, c]) => c <= TLS_AIM) ? ', met' : ', above the aim';
  console.log(
    `TLS cost, CPU time per I/O of both nodes: ${costs.map(([n, c]) => `${n} ${fmtPct(c)}`).join(', ')} (aim ≤ ${100 * TLS_AIM} %${verdict})`,
  );
  return 0;
}

const [cmd, ...rest] = process.argv.slice(2);
const writesOnly = rest.includes('--writes-only');
const args = rest.filter((a) => a !== '--writes-only');
let rc = 2;
if (cmd === 'in-sync' && args.length >= 2) rc = inSync(args[0], args.slice(1));
else if (cmd === 'tables' && args.length >= 1 && args.length <= 2) rc = tables(args[0], args[1], writesOnly);
else if (cmd === 'table' && args.length >= 1 && args.length <= 2) rc = table(args[0], args[1]);
else if (cmd === 'tls' && args.length === 1) rc = tlsTable(args[0]);
else
  console.error(
    'usage: report.mjs in-sync STATUS_JSON NODE... | table REPLICATED_PERF_JSON [SINGLE_PERF_JSON] | tables OUT_DIR [SINGLE_PERF_JSON] [--writes-only] | tls OUT_DIR',
  );
process.exit(rc);
