/**
 * The layer rules of STYLE.md, enforced in `npm run lint` on the TypeScript sources (src/, cmd/),
 * type-only imports included: a cycle of `import type` is a cycle of concepts even though tsc
 * erases it. TypeScript 7 has no JS API for dependency-cruiser to parse .ts with, so it parses
 * with swc (@swc/core), which keeps every import declaration, `import type` too.
 *   cmd → daemon → everything; iscsi → scsi → backstore interface → util;
 *   scsi/spec → nothing; replication → backstore, util; cluster → util (+ scsi interfaces);
 *   node (the one runtime both modes run on) → every layer but daemon and cmd.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'scsi-is-transport-neutral',
      comment: 'The SCSI engine never imports the transport, the cluster or replication.',
      severity: 'error',
      from: { path: '^src/scsi' },
      to: { path: '^src/(iscsi|cluster|replication|admin|daemon)' },
    },
    {
      name: 'scsi-spec-is-constants-only',
      severity: 'error',
      from: { path: '^src/scsi/spec' },
      to: { path: '^src/', pathNot: '^src/scsi/spec' },
    },
    {
      name: 'backstore-below-scsi',
      severity: 'error',
      from: { path: '^src/backstore' },
      to: { path: '^src/(scsi|iscsi|cluster|replication|admin|daemon)' },
    },
    {
      name: 'util-is-a-leaf',
      severity: 'error',
      from: { path: '^src/util' },
      to: { path: '^src/', pathNot: '^src/util' },
    },
    {
      name: 'iscsi-not-above-scsi',
      severity: 'error',
      from: { path: '^src/iscsi' },
      to: { path: '^src/(cluster|replication|admin|daemon)' },
    },
    {
      name: 'replication-uses-backstore-and-util-only',
      severity: 'error',
      from: { path: '^src/replication' },
      to: { path: '^src/(scsi|iscsi|cluster|admin|daemon)' },
    },
    {
      name: 'cluster-uses-util-and-scsi-interfaces',
      severity: 'error',
      from: { path: '^src/cluster' },
      to: { path: '^src/(iscsi|replication|admin|daemon|backstore)' },
    },
    {
      name: 'security-uses-util-only',
      severity: 'error',
      from: { path: '^src/security' },
      to: { path: '^src/', pathNot: '^src/(security|util)' },
    },
    {
      name: 'node-runtime-below-the-root',
      comment:
        'The node runtime (src/node) wires the layers for the composition root: it may import every layer, never the root or the entry points.',
      severity: 'error',
      from: { path: '^src/node' },
      to: { path: '^(src/daemon|cmd/)' },
    },
    {
      name: 'only-cmd-imports-daemon',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/daemon' },
      to: { path: '^src/daemon' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
