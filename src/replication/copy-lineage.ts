import type { VolumeContext } from './volume-context.js';

/**
 * What this copy's metadata says about its place in the volume's lineage (issue 14, finding 4;
 * metadata.ts): its dataset, how new its data is, the replicas it has known.
 */

/** Adds the configured replicas to the ones recorded (finding 4); best effort, logged. */
export function recordReplicas(ctx: VolumeContext): void {
  const known = new Set(ctx.meta.current.replicaNodes);
  const now = ctx.o.replicas().filter((n) => n !== ctx.o.node && !known.has(n));
  if (now.length === 0) return;
  ctx.meta
    .update((m) => ({ replicaNodes: [...new Set([...m.replicaNodes, ...now])].sort() }))
    .catch((err: unknown) => ctx.log.warn({ err }, 'could not record the replica nodes'));
}

/**
 * As primary at `epoch`, this node removed a peer from the in-sync set: from now on its data
 * is newer than that peer's. Durable before the removal counts (before any write the peer
 * lacks is acknowledged).
 */
export async function noteRemoval(ctx: VolumeContext, epoch: number): Promise<void> {
  const era = ctx.o.era ?? ctx.meta.current.era;
  await ctx.meta.update((m) => ({
    dataGen: {
      era,
      epoch,
      seq: m.dataGen.era === era && m.dataGen.epoch === epoch ? m.dataGen.seq + 1 : 1,
    },
  }));
}

/**
 * This node's copy left the volume's replica set (volume replicas remove): it no longer gets the
 * writes, so it is not trustworthy any more. Added back, it is resynced in full.
 */
export async function forgetData(ctx: VolumeContext): Promise<void> {
  if (ctx.role.is('primary') || !ctx.hasValidData) return;
  await ctx.meta.update(() => ({ hasValidData: false, datasetId: '' }));
  ctx.intact = false;
  ctx.log.warn('no longer a replica of the volume: local copy forgotten (a full resync if added back)');
}

export async function initDataset(ctx: VolumeContext, datasetId: string): Promise<void> {
  await ctx.meta.update(() => ({ datasetId, hasValidData: true, dataSize: ctx.device.size }));
  ctx.intact = true;
  ctx.log.info({ datasetId }, 'dataset created: this node is its first in-sync member');
}
