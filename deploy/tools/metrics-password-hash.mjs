#!/usr/bin/env node
// Prints the hash of a password for the node file's metrics.basicAuth (docs/security.md):
//
//   read -rs PW && printf %s "$PW" | node deploy/tools/metrics-password-hash.mjs
//   $scrypt$ln=15,r=8,p=1$…$…
//
// The password is read from standard input (one trailing newline dropped), never from the
// command line (it would show in ps and the shell history). --ln N: scrypt cost 2^N (14..20,
// default 15). Runs the built code (dist/, `npm run build` first), so node and tool agree.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const js = path.join(REPO, 'dist/src/security/basic-auth.js');
if (!fs.existsSync(js)) {
  process.stderr.write(`metrics-password-hash: ${js} not found: run \`npm run build\` first\n`);
  process.exit(2);
}
const { hashPassword, parsePasswordHash, DEFAULT_LN } = await import(js);
const args = process.argv.slice(2);
let ln = DEFAULT_LN;
if (args[0] === '--ln' && args.length === 2 && /^\d+$/.test(args[1])) ln = Number(args[1]);
else if (args.length > 0) {
  process.stderr.write('usage: metrics-password-hash.mjs [--ln 14..20] < password\n');
  process.exit(2);
}
const password = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
if (password.length === 0) {
  process.stderr.write('metrics-password-hash: empty password on standard input\n');
  process.exit(2);
}
const hash = await hashPassword(password, ln);
try {
  parsePasswordHash(hash); // the node accepts exactly what this prints (and refuses a bad --ln)
} catch (err) {
  process.stderr.write(`metrics-password-hash: ${err.message}\n`);
  process.exit(2);
}
console.log(hash);
