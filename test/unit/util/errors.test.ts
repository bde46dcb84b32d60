import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, ErrorCodes, isRetryableCode } from '../../../src/util/errors.js';

const DOC = path.resolve(import.meta.dirname, '../../../docs/errors.md');

/** Every table row of docs/errors.md that names a code: code → its Retryable column. */
function documented(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of fs.readFileSync(DOC, 'utf8').split('\n')) {
    const m = /^\| `(TANDEM_ERR_[A-Z0-9_]+)` \| ([^|]*?) \|/.exec(line);
    if (!m) continue;
    expect(rows.has(m[1]!), `${m[1]} is documented twice`).toBe(false);
    rows.set(m[1]!, m[2]!);
  }
  return rows;
}

describe('the error catalogue and docs/errors.md', () => {
  const docs = documented();
  const codes = Object.keys(ErrorCodes) as ErrorCode[];

  it('documents every code of the catalogue', () => {
    expect(codes.filter((c) => !docs.has(c))).toEqual([]);
  });

  it('documents no code the catalogue does not have', () => {
    expect([...docs.keys()].filter((c) => !(c in ErrorCodes))).toEqual([]);
  });

  it('gives every code the same retryable value', () => {
    for (const code of codes) {
      expect(docs.get(code), code).toBe(isRetryableCode(code) ? 'yes' : 'no');
    }
  });
});
