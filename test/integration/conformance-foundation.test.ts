// Issue #2, check 3: libiscsi's conformance suites for the foundation (INQUIRY, TUR, READ
// CAPACITY, READ/WRITE/VERIFY, iSCSI residuals and sequence numbers) against the embedded node:
// 0 failed, 0 timed out. Runs ../shared/tools/conformance (override with TANDEM_CONFORMANCE).
import { accessSync, constants, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startTandem, type Tandem, tempDir } from '../helpers/daemon.js';
import { explain, requireTools, run } from '../helpers/tools.js';

const CONFORMANCE = process.env.TANDEM_CONFORMANCE ?? path.resolve(REPO_ROOT, '../shared/tools/conformance');

const FOUNDATION_FAMILIES = [
  'SCSI.Inquiry',
  'SCSI.TestUnitReady',
  'SCSI.ReadCapacity10',
  'SCSI.ReadCapacity16',
  'SCSI.Read6',
  'SCSI.Read10',
  'SCSI.Read12',
  'SCSI.Read16',
  'SCSI.Write10',
  'SCSI.Write12',
  'SCSI.Write16',
  'SCSI.Verify10',
  'SCSI.Verify16',
  'iSCSI.iSCSIResiduals',
  'iSCSI.iSCSIcmdsn',
  'iSCSI.iSCSIdatasn',
];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface ConformanceReport {
  totals: { pass: number; fail: number; skip: number; timeout: number; total: number };
  tests: Array<{ name: string; status: string; message?: string }>;
}

describe('libiscsi conformance: foundation families', () => {
  let node: Tandem;

  beforeAll(async () => {
    if (!existsSync(CONFORMANCE))
      throw new Error(`conformance tool not found at ${CONFORMANCE} (set TANDEM_CONFORMANCE)`);
    requireTools('iscsi-test-cu', 'iscsi-inq');
    // The embedded node as the quick start runs it: LUN 0 on a sparse 1 GiB file (fast: ~10 s).
    node = await startTandem();
  });

  it('0 failed, 0 timeout', async () => {
    const out = await tempDir('tandem-conformance-');
    // Run through bash when the copy lost its execute bit (it is a bash script).
    const [cmd, pre] = isExecutable(CONFORMANCE) ? [CONFORMANCE, []] : ['bash', [CONFORMANCE]];
    const r = await run(
      cmd,
      [
        ...pre,
        '--families',
        FOUNDATION_FAMILIES.join(','),
        '--timeout',
        '60',
        '--budget',
        '300',
        '--out',
        out,
        node.url(0),
      ],
      { timeoutMs: 330_000 },
    );
    const summary = r.stdout.trim().split('\n').at(-1) ?? '';
    console.log(summary);
    expect(r.code, explain(r)).toBe(0);

    const report = JSON.parse(
      await readFile(path.join(out, 'conformance.json'), 'utf8'),
    ) as ConformanceReport;
    const bad = report.tests.filter((t) => t.status === 'fail' || t.status === 'timeout');
    const why = bad.map((t) => `${t.status}: ${t.name}: ${t.message ?? ''}`).join('\n');
    expect(report.totals.fail, `${summary}\n${why}`).toBe(0);
    expect(report.totals.timeout, `${summary}\n${why}`).toBe(0);
    expect(report.totals.pass, summary).toBeGreaterThan(0);
  }, 360_000);
});
