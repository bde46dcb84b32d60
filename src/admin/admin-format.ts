/** How tandemctl shows things to people: sizes, tables, progress bars. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB"; whole numbers below 1024 stay in bytes. */
export function formatBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${n} B`;
  return `${v >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)} ${UNITS[i]}`;
}

/** done/total in the unit of total: "1.7/4.0 GiB". */
export function formatProgressBytes(done: number, total: number): string {
  let i = 0;
  while (total >= 1024 ** (i + 1) && i < UNITS.length - 1) i++;
  const d = i === 0 ? 0 : 1;
  return `${(done / 1024 ** i).toFixed(d)}/${(total / 1024 ** i).toFixed(d)} ${UNITS[i]}`;
}

/** `[#####.....] 42% 1.7/4.0 GiB` */
export function progressBar(done: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(frac * 100)}% ${formatProgressBytes(done, total)}`;
}

export function percent(done: number, total: number): string {
  return total > 0 ? `${Math.floor((100 * done) / total)}%` : '-';
}

/** Seconds as "3d4h", "2h5m", "4m10s", "12s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${s % 60}s`;
  return `${s}s`;
}

/** Left-aligned columns separated by two spaces; `-` for empty cells. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = rows.map((r) => headers.map((_, i) => String(r[i] ?? '') || '-'));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/** A titled table, or "Title: none". */
export function section(
  title: string,
  headers: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  if (rows.length === 0) return `${title}: none`;
  return `${title}\n${table(headers, rows)}`;
}
