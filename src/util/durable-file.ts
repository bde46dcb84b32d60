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
