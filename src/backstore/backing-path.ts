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
  /**
   * Paths in the data directory that are the node's own state, never a backing store: its TLS
   * key and certificates, replication metadata, reservation files. A directory covers what is
   * below it. (Mapped as a LUN, the node's private key would be readable over iSCSI.)
   */
  readonly reserved?: readonly string[];
}

/**
 * `p` with every symbolic link resolved: the realpath of its deepest existing ancestor, then the
 * rest (which does not exist yet, so holds no link). `..` is resolved lexically first, as
 * opening the returned path does.
 */
export function resolveReal(p: string, depth = 0): string {
  let cur = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(cur), ...rest);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    // A dangling link still points somewhere: where the file would be created.
    if (fs.lstatSync(cur, { throwIfNoEntry: false })?.isSymbolicLink()) {
      if (depth >= 40)
        throw Object.assign(new Error(`${p}: too many levels of symbolic links`), { code: 'ELOOP' });
      const target = path.resolve(path.dirname(cur), fs.readlinkSync(cur));
      return resolveReal(path.join(target, ...rest), depth + 1);
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
  try {
    return check(configured, policy, key);
  } catch (err) {
    if (err instanceof TandemError) throw err;
    throw new TandemError(
      'TANDEM_ERR_BACKSTORE_OPEN',
      `${key} ${JSON.stringify(configured)} refused: it cannot be resolved (${(err as Error).message})`,
    );
  }
}

function check(configured: string, policy: BackingPathPolicy, key: string): string {
  const wanted = path.resolve(policy.dataDir, configured);
  const real = resolveReal(wanted);
  const dataDir = resolveReal(policy.dataDir);
  for (const r of policy.reserved ?? []) {
    const own = resolveReal(path.resolve(policy.dataDir, r));
    if (real === own || below(real, own)) {
      throw new TandemError(
        'TANDEM_ERR_BACKSTORE_OPEN',
        `${key} ${JSON.stringify(configured)} refused: ${real} is this node's own state (${own}), not a backing store`,
      );
    }
  }
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
