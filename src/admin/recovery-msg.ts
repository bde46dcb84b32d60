/**
 * VolumeRecovery (admin.proto) both ways: the node that reports it (admin-server.ts) and the node
 * that collects it for the cluster status (admin-client.ts NodeStatus fan-out).
 */
import type { DataGeneration__Output } from '../gen/tandem/admin/v1/DataGeneration.js';
import type { VolumeRecovery__Output } from '../gen/tandem/admin/v1/VolumeRecovery.js';
import type { DataGenerationInfo, VolumeRecoveryInfo } from './admin-backend.js';

export type VolumeRecoveryMsg = VolumeRecovery__Output;

const NONE: DataGenerationInfo = { era: '', epoch: 0, seq: 0 };

export function recoveryMsg(r: VolumeRecoveryInfo): VolumeRecoveryMsg {
  return {
    node: r.node,
    state: r.state,
    source: r.source,
    missing: r.missing,
    generation: r.generation,
    newest: r.newest ?? null,
    reason: r.reason,
  };
}

export function recoveryFromMsg(m: VolumeRecoveryMsg): VolumeRecoveryInfo {
  const gen = (g: DataGeneration__Output | null): DataGenerationInfo =>
    g ? { era: g.era, epoch: Number(g.epoch), seq: Number(g.seq) } : NONE;
  return {
    node: m.node,
    state: m.state,
    source: m.source,
    missing: m.missing,
    generation: gen(m.generation),
    ...(m.newest ? { newest: gen(m.newest) } : {}),
    reason: m.reason,
  };
}
