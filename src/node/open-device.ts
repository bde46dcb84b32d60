import fs from 'node:fs';
import path from 'node:path';
import type { VolumeConfig } from '../admin/config-schema.js';
import type { BlockDevice } from '../backstore/block-device.js';
import { FileDevice } from '../backstore/file.js';
import { MemoryDevice } from '../backstore/memory.js';
import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

/**
 * Opens the local store of a volume: the one place a node turns configuration into a backing
 * device (both modes), so every check on a configured path is made here. A relative path is
 * under the node's data directory; a file is created sparse with the volume's size.
 */
export async function openVolumeDevice(
  dataDir: string,
  vol: VolumeConfig,
  log: Logger,
  /** The path already resolved and admitted by the backing-path policy (cluster mode). */
  checked?: string,
): Promise<BlockDevice> {
  if (vol.backstore === 'memory') return new MemoryDevice(vol.size!);
  // A shared volume's path names the one store every node opens (absolute, normally).
  const file = checked ?? path.resolve(dataDir, vol.path ?? `${vol.id}.img`);
  const open = () =>
    FileDevice.open(file, {
      ...(vol.size ? { createSize: vol.size } : {}),
      readOnly: vol.readOnly,
      warn: (m) => log.warn({ file }, m),
    });
  let dev: BlockDevice;
  try {
    dev = await open();
  } catch (err) {
    // Two nodes creating the same shared file at once: one wins, the other opens it.
    if (!fs.existsSync(file)) throw err;
    dev = await open();
  }
  if (dev.size < vol.blockSize) {
    await dev.close();
    throw new TandemError('TANDEM_ERR_BACKSTORE_OPEN', `volume ${vol.id}: ${file} is smaller than one block`);
  }
  return dev;
}
