/**
 * `tandemctl top`: per-LU rates from two scrapes of the node's Prometheus registry (the Metrics
 * RPC): IOPS and MB/s from counter deltas, latency quantiles from histogram bucket deltas
 * (linear interpolation inside a bucket, as Prometheus' histogram_quantile does).
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;

/** Parses the Prometheus text exposition format (0.0.4); comments and bad lines are skipped. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const l of m[3].matchAll(LABEL)) {
        labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      }
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

interface LuCounters {
  target: string;
  lun: string;
  commands: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  /** le → cumulative count, all classes summed. */
  buckets: Map<number, number>;
}

export interface Scrape {
  /** Monotonic time of the scrape, ms. */
  at: number;
  lus: Map<string, LuCounters>;
}

const luKey = (target: string, lun: string) => `${target}\u0000${lun}`;

export function scrape(text: string, at: number): Scrape {
  const lus = new Map<string, LuCounters>();
  const lu = (l: Record<string, string>): LuCounters => {
    const target = l.target ?? '';
    const lun = l.lun ?? '';
    const k = luKey(target, lun);
    let c = lus.get(k);
    if (!c) {
      c = { target, lun, commands: {}, bytesIn: 0, bytesOut: 0, buckets: new Map() };
      lus.set(k, c);
    }
    return c;
  };
  for (const s of parsePrometheus(text)) {
    if (s.name === 'tandem_scsi_commands_total') {
      const c = lu(s.labels);
      const cls = s.labels.class ?? 'other';
      c.commands[cls] = (c.commands[cls] ?? 0) + s.value;
    } else if (s.name === 'tandem_scsi_bytes_total') {
      const c = lu(s.labels);
      if (s.labels.direction === 'in') c.bytesIn += s.value;
      else c.bytesOut += s.value;
    } else if (s.name === 'tandem_scsi_command_seconds_bucket') {
      const c = lu(s.labels);
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      c.buckets.set(le, (c.buckets.get(le) ?? 0) + s.value);
    }
  }
  return { at, lus };
}

/** Quantile `q` (0..1) of a histogram given as le → cumulative count; undefined when empty. */
export function histogramQuantile(q: number, buckets: Map<number, number>): number | undefined {
  const les = [...buckets.keys()].sort((a, b) => a - b);
  if (les.length === 0) return undefined;
  const total = buckets.get(les[les.length - 1]!)!;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCum = 0;
  for (const le of les) {
    const cum = buckets.get(le)!;
    if (cum >= rank) {
      if (le === Infinity) return prevLe;
      if (cum === prevCum) return le;
      return prevLe + ((le - prevLe) * (rank - prevCum)) / (cum - prevCum);
    }
    prevLe = le;
    prevCum = cum;
  }
  return prevLe;
}

export interface TopRow {
  target: string;
  lun: string;
  iops: number;
  readIops: number;
  writeIops: number;
  /** Bytes per second. */
  readBps: number;
  writeBps: number;
  /** Seconds; undefined: no commands in the interval. */
  p50: number | undefined;
  p99: number | undefined;
}

/** A counter's increase; a smaller value means the node restarted (the counter began again). */
const delta = (now: number, before: number | undefined) =>
  before === undefined || now < before ? now : now - before;

/** Rates between two scrapes, sorted by target then LUN number. */
export function topRows(prev: Scrape, cur: Scrape): TopRow[] {
  const dt = Math.max(1e-3, (cur.at - prev.at) / 1000);
  const rows: TopRow[] = [];
  for (const [k, c] of cur.lus) {
    const p = prev.lus.get(k);
    const cmd = (cls: string) => delta(c.commands[cls] ?? 0, p?.commands[cls]);
    const all = Object.keys(c.commands).reduce((n, cls) => n + cmd(cls), 0);
    const buckets = new Map<number, number>();
    for (const [le, n] of c.buckets) buckets.set(le, delta(n, p?.buckets.get(le)));
    rows.push({
      target: c.target,
      lun: c.lun,
      iops: all / dt,
      readIops: cmd('read') / dt,
      writeIops: cmd('write') / dt,
      readBps: delta(c.bytesIn, p?.bytesIn) / dt,
      writeBps: delta(c.bytesOut, p?.bytesOut) / dt,
      p50: histogramQuantile(0.5, buckets),
      p99: histogramQuantile(0.99, buckets),
    });
  }
  return rows.sort((a, b) =>
    a.target === b.target ? Number(a.lun) - Number(b.lun) : a.target < b.target ? -1 : 1,
  );
}

/** 0.000123 → "123us", 0.0042 → "4.2ms", 1.5 → "1.50s". */
export function formatLatency(s: number | undefined): string {
  if (s === undefined) return '-';
  if (s < 1e-3) return `${Math.round(s * 1e6)}us`;
  if (s < 1) return `${(s * 1e3).toFixed(s < 0.01 ? 2 : 1)}ms`;
  return `${s.toFixed(2)}s`;
}
