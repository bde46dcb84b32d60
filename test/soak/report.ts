// The soak's closing note: RSS over time per node, refusals by kind, the victims' latency per
// phase, attack outcomes and findings, as a table for the log and as JSON.
import type { LatencySample } from './victim.js';

const MiB = 1 << 20;

export interface Sample {
  /** s since the soak started. */
  t: number;
  phase: Phase;
  /** Per node: VmRSS in bytes, or null once the process is gone. */
  rss: Record<string, number | null>;
  /** Per node: tandem_iscsi_refusals_total by kind (null: the scrape failed). */
  refusals: Record<string, Record<string, number> | null>;
  /** Per victim: p99 of the commands completed since the previous sample (ms). */
  victimP99: Record<string, number | null>;
}

export type Phase = 'before' | 'during' | 'after';

export interface LatencySummary {
  commands: number;
  p50: number;
  p99: number;
  max: number;
}

export interface SoakReport {
  seconds: { before: number; during: number; after: number };
  limits: Record<string, number>;
  rssMarginBytes: number;
  p99BoundMs: number;
  rss: Record<string, { start: number; max: number; end: number | null; maxGrowth: number }>;
  samples: Sample[];
  refusals: Record<string, Record<string, number>>;
  victims: Record<
    string,
    {
      node: string;
      rounds: number;
      errors: string[];
      unitAttentions: number;
      latency: Record<Phase, LatencySummary>;
    }
  >;
  attacks: Record<string, { runs: number; outcomes: Record<string, number> }>;
  findings: string[];
  deaths: string[];
  /** Per volume: `tandemctl verify` after the run ("identical" or what it said). */
  replicas: Record<string, string>;
  /** Per volume: which node was primary, in order (from the nodes' logs). */
  primaries: Record<string, string>;
}

export function pct(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export function summarize(lat: readonly LatencySample[], fromMs: number, toMs: number): LatencySummary {
  const ms = lat
    .filter((l) => l.at >= fromMs && l.at < toMs)
    .map((l) => l.ms)
    .sort((a, b) => a - b);
  return { commands: ms.length, p50: pct(ms, 0.5), p99: pct(ms, 0.99), max: ms[ms.length - 1] ?? 0 };
}

const mib = (b: number | null) => (b === null ? 'gone' : (b / MiB).toFixed(0));
const f1 = (v: number) => v.toFixed(1);

export function formatReport(r: SoakReport): string {
  const nodes = Object.keys(r.rss);
  const out: string[] = [];
  out.push(
    `hostile soak: ${r.seconds.before} s before, ${r.seconds.during} s of hostile clients, ${r.seconds.after} s after; ` +
      `2-node replicated TLS cluster; nodeBudget ${r.limits.nodeBudget! / MiB} MiB, connectionBudget ${r.limits.connectionBudget! / MiB} MiB, ` +
      `RSS margin ${r.rssMarginBytes / MiB} MiB, victim p99 bound ${r.p99BoundMs} ms`,
  );
  out.push(
    `primaries: ${Object.entries(r.primaries)
      .map(([v, n]) => `${v} ${n}`)
      .join(', ')} (the victim and hostile clients on the other node are forwarded to them)`,
  );
  out.push('', 'RSS (MiB)    start    max   end   max growth');
  for (const n of nodes) {
    const x = r.rss[n]!;
    out.push(
      `  node ${n.padEnd(6)} ${mib(x.start).padStart(5)} ${mib(x.max).padStart(6)} ${mib(x.end).padStart(5)} ${mib(x.maxGrowth).padStart(8)}`,
    );
  }
  const every = Math.max(1, Math.ceil(r.samples.length / 40));
  out.push(
    '',
    `over time (every ${every * 5} s): t phase  ${nodes.map((n) => `rss ${n}`).join('  ')}  ${Object.keys(
      r.victims,
    )
      .map((v) => `p99 ${v}`)
      .join('  ')}`,
  );
  r.samples.forEach((s, i) => {
    if (i % every !== 0 && i !== r.samples.length - 1) return;
    out.push(
      `  ${String(Math.round(s.t)).padStart(4)}s ${s.phase.padEnd(6)} ${nodes.map((n) => mib(s.rss[n] ?? null).padStart(6)).join(' ')}  ${Object.values(
        s.victimP99,
      )
        .map((v) => (v === null ? '-' : f1(v)).padStart(8))
        .join(' ')}`,
    );
  });
  const kinds = [...new Set(Object.values(r.refusals).flatMap((k) => Object.keys(k)))].sort();
  out.push(
    '',
    `refusals by kind (tandem_iscsi_refusals_total)   ${nodes.map((n) => n.padStart(8)).join('')}`,
  );
  for (const k of kinds)
    out.push(`  ${k.padEnd(44)} ${nodes.map((n) => String(r.refusals[n]?.[k] ?? 0).padStart(8)).join('')}`);
  out.push('', 'victims      phase    commands   p50 ms   p99 ms   max ms');
  for (const [v, x] of Object.entries(r.victims)) {
    for (const ph of ['before', 'during', 'after'] as const) {
      const l = x.latency[ph];
      out.push(
        `  ${`${v} (${x.node})`.padEnd(11)} ${ph.padEnd(7)} ${String(l.commands).padStart(9)} ${f1(l.p50).padStart(8)} ${f1(l.p99).padStart(8)} ${f1(l.max).padStart(8)}`,
      );
    }
    out.push(
      `  ${v}: ${x.rounds} verified rounds, verify errors ${x.errors.length}${x.errors.length ? ` (first: ${x.errors[0]})` : ''}, unit attentions ${x.unitAttentions}`,
    );
  }
  out.push('', 'attacks (runs: outcomes)');
  for (const [a, x] of Object.entries(r.attacks)) {
    const os = Object.entries(x.outcomes)
      .sort((p, q) => q[1] - p[1])
      .slice(0, 8)
      .map(([o, c]) => `${o} ×${c}`)
      .join('; ');
    out.push(`  ${a} ×${x.runs}: ${os}`);
  }
  out.push('', `findings: ${r.findings.length === 0 ? 'none' : ''}`);
  for (const f of r.findings.slice(0, 20)) out.push(`  ${f}`);
  out.push(
    `replicas (tandemctl verify): ${Object.entries(r.replicas)
      .map(([v, x]) => `${v} ${x}`)
      .join(', ')}`,
  );
  out.push(`node deaths: ${r.deaths.length === 0 ? 'none' : r.deaths.join(', ')}`);
  return out.join('\n');
}
