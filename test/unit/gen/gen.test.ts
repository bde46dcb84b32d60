import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module without type declarations
import { generate, listFiles } from '../../../proto/generate.mjs';

const GEN = path.resolve(import.meta.dirname, '../../../src/gen');

describe('src/gen', () => {
  it('is what `npm run proto` generates from proto/ (run it after changing a .proto)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-gen-'));
    try {
      generate(tmp);
      const rel = (dir: string) => (listFiles(dir) as string[]).map((f) => path.relative(dir, f));
      expect(rel(GEN)).toEqual(rel(tmp));
      for (const f of rel(tmp)) {
        expect(fs.readFileSync(path.join(GEN, f), 'utf8'), f).toBe(
          fs.readFileSync(path.join(tmp, f), 'utf8'),
        );
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
