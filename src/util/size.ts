/** Parses a size such as 1G, 512M, 4096, 1GiB into bytes (binary units). */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') return text;
  const m = /^\s*(\d+)\s*([kmgtp]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new Error(`not a size: "${text}" (use e.g. 1G, 512M, 4096)`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }[unit] ?? 1;
  return Number(m[1]) * mult;
}
