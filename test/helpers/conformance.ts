// Runs ../shared/tools/conformance (libiscsi's iscsi-test-cu, one process per suite) and
// returns its JSON report. Override the tool with TANDEM_CONFORMANCE.
import { accessSync, constants, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, tempDir } from './daemon.js';
import { explain, run } from './tools.js';

export const CONFORMANCE =
  process.env.TANDEM_CONFORMANCE ?? path.resolve(REPO_ROOT, '../shared/tools/conformance');

export interface ConformanceReport {
  totals: { pass: number; fail: number; skip: number; timeout: number; total: number };
  tests: Array<{ name: string; status: string; message?: string }>;
  /** The tool's last line: "conformance: P passed, F failed, S skipped, T timeout (of N)". */
  summary: string;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function runConformance(opts: {
  urls: [string] | [string, string];
  families?: string[];
  timeoutS?: number;
  budgetS?: number;
}): Promise<ConformanceReport> {
  if (!existsSync(CONFORMANCE))
    throw new Error(`conformance tool not found at ${CONFORMANCE} (set TANDEM_CONFORMANCE)`);
  const out = await tempDir('tandem-conformance-');
  // Run through bash when the copy lost its execute bit (it is a bash script).
  const [cmd, pre] = isExecutable(CONFORMANCE) ? [CONFORMANCE, []] : ['bash', [CONFORMANCE]];
  const budget = opts.budgetS ?? 600;
  const r = await run(
    cmd,
    [
      ...pre,
      ...(opts.families ? ['--families', opts.families.join(',')] : []),
      '--timeout',
      String(opts.timeoutS ?? 60),
      '--budget',
      String(budget),
      '--out',
      out,
      ...opts.urls,
    ],
    { timeoutMs: (budget + 60) * 1000 },
  );
  if (r.code !== 0) throw new Error(`conformance tool failed: ${explain(r)}`);
  const report = JSON.parse(await readFile(path.join(out, 'conformance.json'), 'utf8')) as Omit<
    ConformanceReport,
    'summary'
  >;
  return { ...report, summary: r.stdout.trim().split('\n').at(-1) ?? '' };
}

/** The failed and timed-out tests, one per line, for assertion messages. */
export function failures(r: ConformanceReport): string {
  const bad = r.tests.filter((t) => t.status === 'fail' || t.status === 'timeout');
  return [r.summary, ...bad.map((t) => `${t.status}: ${t.name}: ${t.message ?? ''}`)].join('\n');
}
