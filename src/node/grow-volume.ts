import type { VolumeConfig } from '../admin/config-schema.js';
import type { BlockDevice } from '../backstore/block-device.js';
import type { LogicalUnit } from '../scsi/logical-unit.js';
import { reason } from '../scsi/sense-reason.js';
import type { Logger } from '../util/logger.js';

/** What growVolume needs of a replicated volume's mirror (ReplicatedVolume). */
export interface GrowableReplication {
  readonly blockDevice: { readonly size: number };
  requestSize(size: number): void;
}

/**
 * A volume's configured size changed: grow its store in place (every node does, for its own
 * store or the shared one; growing is idempotent) and tell every nexus on this node (SBC-3
 * 4.10: CAPACITY DATA HAS CHANGED). Shrinking is refused: blocks in use would vanish.
 *
 * A replicated volume is grown by its primary, copy by copy (src/replication/resize.ts): every
 * node hands the size to its mirror, and each node queues the unit attention when its LU's
 * size changes (the mirror's capacity listener, wired at mount), not here.
 */
export async function growVolume(
  m: { readonly lu: LogicalUnit; readonly device: BlockDevice; readonly replication?: GrowableReplication },
  vol: VolumeConfig,
  log: Logger,
): Promise<void> {
  const want = vol.size;
  const rep = m.replication;
  const have = rep ? rep.blockDevice.size : m.device.size;
  if (want === undefined || want === have) return;
  if (rep) {
    if (want < have) {
      log.error(
        { volume: vol.id, from: have, to: want },
        'a replicated volume cannot shrink: size unchanged',
      );
      return;
    }
    rep.requestSize(want);
    log.info({ volume: vol.id, from: have, to: want }, 'replicated volume resize requested');
    return;
  }
  if (want < have || !m.device.grow) {
    log.error(
      { volume: vol.id, from: have, to: want },
      'the volume cannot shrink or grow here: size unchanged',
    );
    return;
  }
  try {
    await m.device.grow(want);
  } catch (err) {
    log.error({ err, volume: vol.id, to: want }, 'growing the volume failed');
    return;
  }
  m.lu.unitAttentions.establishAll(m.lu.knownNexuses(), reason('CAPACITY_DATA_HAS_CHANGED'));
  log.info({ volume: vol.id, from: have, to: want }, 'volume grown: CAPACITY DATA HAS CHANGED');
}
