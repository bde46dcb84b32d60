import fs from 'node:fs';
import path from 'node:path';
import { TandemError } from '../util/errors.js';

/**
 * Where a backing path from the cluster configuration may point (DESIGN.md Trust; issue #12
 * attack 3): inside the node's data directory, or at a path its own node file lists.
 */
export interface BackingPathPolicy {
  /** The node's data directory (node.dataDir). */
  readonly dataDir: string;
  /**
   * The node file's `allowedDevices`: absolute paths admitted as they are (a block device, a
   * shared image); an entry ending in `/` admits every path below that directory.
   */
  readonly allowedDevices: readonly string[];
}

/**
 * `p` with every symbolic link resolved: the realpath of its deepest existing ancestor, then the
 * rest (which does not exist yet, so holds no link). `..` is resolved lexically first, as
 * opening the returned path does.
 */
export function resolveReal(p: string): string {
  let cur = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(cur), ...rest);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    const parent = path.dirname(cur);
    if (parent === cur) return path.join(cur, ...rest);
    rest.unshift(path.basename(cur));
    cur = parent;
  }
}

/** Whether `p` is strictly below directory `dir` (both resolved). */
function below(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && rel.split(path.sep)[0] !== '..' && !path.isAbsolute(rel);
}

/**
 * The path to open for `configured` (relative paths are under the data directory), resolved, or
 * one TANDEM_ERR_BACKSTORE_OPEN naming `key`, the path and why. Checked before anything touches
 * the file system: a refused path is never created nor grown. Open the returned path (it has no
 * links left), not `configured`.
 */
export function checkBackingPath(configured: string, policy: BackingPathPolicy, key: string): string {
  const wanted = path.resolve(policy.dataDir, configured);
  const real = resolveReal(wanted);
  const dataDir = resolveReal(policy.dataDir);
  if (below(real, dataDir)) return real;
  for (const entry of policy.allowedDevices) {
    if (!path.isAbsolute(entry)) continue;
    if (entry.endsWith('/')) {
      if (below(real, resolveReal(entry))) return real;
    } else if (path.resolve(entry) === wanted || resolveReal(entry) === real) return real;
  }
  const where = real === wanted ? real : `${wanted}, which resolves to ${real},`;
  throw new TandemError(
    'TANDEM_ERR_BACKSTORE_OPEN',
    `${key} ${JSON.stringify(configured)} refused: ${where} is outside the data directory ${dataDir} and not listed in allowedDevices of the node file`,
  );
}
