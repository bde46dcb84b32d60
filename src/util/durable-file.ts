import fs from 'node:fs';
import path from 'node:path';

/**
 * Replaces `file` with `data` so that a crash leaves the old or the new contents, never a mix:
 * write a temporary file beside it, fsync it, rename it over `file`, fsync the directory.
 */
export async function replaceFileDurably(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await fs.promises.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
  const dir = await fs.promises.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Creates `file` (never replacing one: EEXIST if it is there) so that after a crash or a power
 * cut it is either absent or whole and on disk: the contents go to a temporary file beside it
 * (created with `mode`), are fsynced, then linked into place (link(2) fails rather than
 * overwrite), and the directory is fsynced. Synchronous: for start-up and command-line paths.
 */
export function createFileDurablySync(file: string, data: string | Buffer, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    // A file system without hard links (FUSE, some network ones): check, then rename. Only a
    // concurrent creator of the same file could slip between the two.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    if (fs.existsSync(file)) {
      fs.rmSync(tmp, { force: true });
      throw Object.assign(new Error(`EEXIST: file already exists, '${file}'`), { code: 'EEXIST' });
    }
    fs.renameSync(tmp, file);
  }
  fs.rmSync(tmp, { force: true });
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}
