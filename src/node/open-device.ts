import fs from 'node:fs';
import path from 'node:path';
import type { VolumeConfig } from '../admin/config-schema.js';
import type { BlockDevice } from '../backstore/block-device.js';
import { FileDevice } from '../backstore/file.js';
import { MemoryDevice } from '../backstore/memory.js';
import { invalidateLostStore } from '../replication/metadata.js';
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
  let dev: FileDevice;
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
  await checkFoundStore(dataDir, vol, dev, file, log).catch(async (err: unknown) => {
    await dev.close();
    throw err;
  });
  return dev;
}

/**
 * Issue 14, finding 3: a store that was missing (created now) or shorter than it was. A
 * replicated copy whose metadata says it held data opens as not valid (a full resync from a
 * peer; never elected, never served). Other volumes have no record of what the store held: a
 * created or grown file is what provisioning and an offline resize do, so it is logged, loudly
 * enough that a lost mount or a replaced disk is seen (docs/replication.md).
 */
async function checkFoundStore(
  dataDir: string,
  vol: VolumeConfig,
  dev: FileDevice,
  file: string,
  log: Logger,
): Promise<void> {
  const found = dev.foundSize;
  if (vol.kind === 'replicated') {
    const why = await invalidateLostStore(path.join(dataDir, 'replication'), vol.id, dev);
    if (why) {
      log.error(
        { volume: vol.id, file, foundSize: found ?? null, size: dev.size },
        `replica store lost: ${why}; this copy is not valid and needs a full resync`,
      );
    }
    return;
  }
  if (found === undefined) {
    log.warn(
      { volume: vol.id, file, size: dev.size },
      'backing store did not exist: created empty (right for a new volume; if this volume held data, its store is gone or not mounted)',
    );
  } else if (found < dev.size) {
    log.warn({ volume: vol.id, file, from: found, to: dev.size }, 'backing store grown to the volume size');
  }
}
