// Issue #2, check 3: libiscsi's conformance suites for the foundation (INQUIRY, TUR, READ
// CAPACITY, READ/WRITE/VERIFY, iSCSI residuals and sequence numbers) against the embedded node:
// 0 failed, 0 timed out. Runs ../shared/tools/conformance (override with TANDEM_CONFORMANCE).
import { beforeAll, describe, expect, it } from 'vitest';
import { failures, runConformance } from '../helpers/conformance.js';
import { startTandem, type Tandem } from '../helpers/daemon.js';
import { requireTools } from '../helpers/tools.js';

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

describe('libiscsi conformance: foundation families', () => {
  let node: Tandem;

  beforeAll(async () => {
    requireTools('iscsi-test-cu', 'iscsi-inq');
    // The embedded node as the quick start runs it: LUN 0 on a sparse 1 GiB file (fast: ~10 s).
    node = await startTandem();
  });

  it('0 failed, 0 timeout', async () => {
    const report = await runConformance({ urls: [node.url(0)], families: FOUNDATION_FAMILIES, budgetS: 300 });
    console.log(report.summary);
    expect(report.totals.fail, failures(report)).toBe(0);
    expect(report.totals.timeout, failures(report)).toBe(0);
    expect(report.totals.pass, report.summary).toBeGreaterThan(0);
  }, 360_000);
});
