/**
 * The layer rules of STYLE.md, enforced in `npm run lint` on the compiled output (dist/):
 * TypeScript 7 has no JS API for dependency-cruiser to parse .ts with, and tsc keeps every
 * import as written, so the graph of dist/ is the graph of src/.
 *   cmd → daemon → everything; iscsi → scsi → backstore interface → util;
 *   scsi/spec → nothing; replication → backstore, util; cluster → util (+ scsi interfaces).
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'scsi-is-transport-neutral',
      comment: 'The SCSI engine never imports the transport, the cluster or replication.',
      severity: 'error',
      from: { path: '^dist/src/scsi' },
      to: { path: '^dist/src/(iscsi|cluster|replication|admin|daemon)' },
    },
    {
      name: 'scsi-spec-is-constants-only',
      severity: 'error',
      from: { path: '^dist/src/scsi/spec' },
      to: { path: '^dist/src/', pathNot: '^dist/src/scsi/spec' },
    },
    {
      name: 'backstore-below-scsi',
      severity: 'error',
      from: { path: '^dist/src/backstore' },
      to: { path: '^dist/src/(scsi|iscsi|cluster|replication|admin|daemon)' },
    },
    {
      name: 'util-is-a-leaf',
      severity: 'error',
      from: { path: '^dist/src/util' },
      to: { path: '^dist/src/', pathNot: '^dist/src/util' },
    },
    {
      name: 'iscsi-not-above-scsi',
      severity: 'error',
      from: { path: '^dist/src/iscsi' },
      to: { path: '^dist/src/(cluster|replication|admin|daemon)' },
    },
    {
      name: 'replication-uses-backstore-and-util-only',
      severity: 'error',
      from: { path: '^dist/src/replication' },
      to: { path: '^dist/src/(scsi|iscsi|cluster|admin|daemon)' },
    },
    {
      name: 'cluster-uses-util-and-scsi-interfaces',
      severity: 'error',
      from: { path: '^dist/src/cluster' },
      to: { path: '^dist/src/(iscsi|replication|admin|daemon|backstore)' },
    },
    {
      name: 'only-cmd-imports-daemon',
      severity: 'error',
      from: { path: '^dist/src/', pathNot: '^dist/src/daemon' },
      to: { path: '^dist/src/daemon' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.map$' },
  },
};
