// tandemd for the soak's cluster (TANDEM_TANDEMD, which deploy/local/cluster runs as
// `node FLAGS THIS --config DIR/<name>/node.yaml`): merges TANDEM_SOAK_NODE_OVERLAY (JSON: the
// iSCSI limits under test and a metrics listener) into the node file the script wrote, then runs
// the real daemon in this same process, so the PID the script records is the node's. The node
// file is rewritten in place: `cluster start` and the script's own rewrites keep the overlay.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function merge(into, from) {
  for (const [k, v] of Object.entries(from)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && into[k] && typeof into[k] === 'object')
      merge(into[k], v);
    else into[k] = v;
  }
  return into;
}

const at = process.argv.indexOf('--config');
const file = at > 0 ? process.argv[at + 1] : undefined;
const overlay = JSON.parse(process.env.TANDEM_SOAK_NODE_OVERLAY ?? '{}');
if (file && Object.keys(overlay).length > 0) {
  const text = fs.readFileSync(file, 'utf8');
  const header = text
    .split('\n')
    .filter((l) => l.startsWith('#') && !l.includes('overlay-tandemd'))
    .join('\n');
  const doc = merge(YAML.parse(text), overlay);
  fs.writeFileSync(
    file,
    `${header}\n# iscsi.limits and metrics: merged by test/soak/overlay-tandemd.mjs\n${YAML.stringify(doc)}`,
  );
}
await import(process.env.TANDEM_SOAK_REAL_TANDEMD ?? path.join(REPO, 'dist/cmd/tandemd.js'));
