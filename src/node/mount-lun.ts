import path from 'node:path';
import type { ClusterLunConfig, NodeConfig, VolumeConfig } from '../admin/config-schema.js';
import type { BlockDevice } from '../backstore/block-device.js';
import type { Coordinator, PortGroup } from '../cluster/coordinator.js';
import { ClusterModeStore } from '../cluster/mode-parameter-store.js';
import type { ReplicatedVolume } from '../replication/index.js';
import { LogicalUnit } from '../scsi/logical-unit.js';
import { reason } from '../scsi/sense-reason.js';
import type { ScsiTarget } from '../scsi/target.js';
import type { Logger } from '../util/logger.js';
import type { ClusterLink } from './cluster-link.js';
import { openVolumeDevice } from './open-device.js';

/** A LUN the node serves: its volume, LU, local store and (replicated) mirror. */
export interface Mounted {
  readonly key: string;
  readonly target: string;
  readonly lun: number;
  readonly volume: VolumeConfig;
  readonly lu: LogicalUnit;
  readonly device: BlockDevice;
  /** Replicated volumes: the mirror (its blockDevice is what the LU writes to; it closes `device`). */
  readonly replication?: ReplicatedVolume;
}

/** What building one LU needs of the node runtime. */
export interface MountHost {
  readonly cfg: NodeConfig;
  readonly log: Logger;
  readonly coordinator: Coordinator;
  /** Cluster mode's peer services (undefined: embedded). */
  readonly link: ClusterLink | undefined;
  readonly group: PortGroup;
  readonly targets: ReadonlyMap<string, ScsiTarget>;
  readonly timeDevice?: ((device: BlockDevice, target: string, lun: number) => BlockDevice) | undefined;
  /** Cluster mode: the backing path `vol` may use (DESIGN.md Trust). */
  checkVolumePath(vol: VolumeConfig): string;
}

/**
 * One LUN of the configuration made live: its store opened, wired to the cluster (mirror,
 * reservations, ALUA, forwarding) or led alone (embedded), its LU added to the target engine.
 * On failure everything opened is closed again and the error is thrown.
 */
export async function mountLun(
  host: MountHost,
  key: string,
  l: ClusterLunConfig,
  vol: VolumeConfig,
): Promise<Mounted> {
  const c = host.coordinator;
  const engine = host.targets.get(l.target)!;
  const raw = await openVolumeDevice(
    host.cfg.node.dataDir,
    vol,
    host.log,
    host.cfg.cluster ? host.checkVolumePath(vol) : undefined,
  );
  // Timed: the LU's own I/O on the primary, and on a replica the mirrored writes it applies.
  const device = host.timeDevice?.(raw, l.target, l.lun) ?? raw;
  const link = host.link;
  const holder: { lu?: LogicalUnit } = {};
  let linked: Awaited<ReturnType<ClusterLink['wire']>> | undefined;
  let modes: ClusterModeStore | undefined;
  try {
    const seed = await c.volumeSeed(vol.id, vol.identity);
    linked = await link?.wire(
      vol,
      device,
      (s) => host.targets.get(l.target)?.observer?.stage(l.lun, 'replication', s),
      () => {
        const lu = holder.lu;
        // SPC-4 5.15.2.3: every I_T nexus of the LU learns of the change (here: those on this node).
        if (lu) lu.unitAttentions.establishAll(lu.knownNexuses(), reason('ASYMMETRIC_ACCESS_STATE_CHANGED'));
      },
    );
    // Mode parameters an initiator set are cluster state (issue 14, finding 6).
    modes = await ClusterModeStore.open({ coordinator: c, volume: vol.id, logger: host.log });
    const lu = new LogicalUnit(
      linked?.replication?.blockDevice ?? device,
      {
        volumeId: vol.id,
        blockSize: vol.blockSize,
        readOnly: vol.readOnly,
        identitySeed: seed,
        // Embedded: persistent reservations with APTPL survive a restart in this file (SPC-4 5.13.6).
        ...(link
          ? {}
          : {
              aptplFile: path.join(host.cfg.node.dataDir, 'reservations', `${encodeURIComponent(seed)}.json`),
            }),
      },
      { ...linked?.options, modeStore: modes },
    );
    holder.lu = lu;
    // SBC-3 4.10: this node's nexuses learn of a committed resize (src/replication/resize.ts).
    linked?.replication?.onCapacityChanged(() =>
      lu.unitAttentions.establishAll(lu.knownNexuses(), reason('CAPACITY_DATA_HAS_CHANGED')),
    );
    if (vol.size) linked?.replication?.requestSize(vol.size);
    if (!link) await leadAlone(host, vol);
    engine.addLun(l.lun, lu);
    host.log.info(
      {
        target: l.target,
        lun: l.lun,
        volume: vol.id,
        kind: vol.kind,
        backstore: device.description,
        bytes: device.size,
        blockSize: vol.blockSize,
      },
      'logical unit ready',
    );
    return {
      key,
      target: l.target,
      lun: l.lun,
      volume: vol,
      lu,
      device,
      ...(linked?.replication ? { replication: linked.replication } : {}),
    };
  } catch (err) {
    modes?.close();
    if (linked) await link?.unwire(vol.id);
    if (linked?.replication) await linked.replication.close().catch(() => undefined);
    else await device.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Embedded: the node is the primary of every volume it serves, and its one port group is
 * Active/Optimized, recorded in the coordinator so status reads it as in a cluster. A
 * replicated volume has one copy, this node's: it is the whole in-sync set.
 */
async function leadAlone(host: MountHost, vol: VolumeConfig): Promise<void> {
  const c = host.coordinator;
  const volume = vol.id;
  if (vol.kind === 'replicated') await c.createReplicaSet(volume, `${host.cfg.node.name}:${volume}`);
  c.campaign(volume);
  const epoch = c.epoch(volume);
  if (epoch !== undefined) {
    await c.publishAlua(volume, epoch, [
      { targetPortGroupId: host.group.targetPortGroupId, state: 'active-optimized' },
    ]);
  }
}
