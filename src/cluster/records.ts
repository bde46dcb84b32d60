import { z } from 'zod';
import { TandemError } from '../util/errors.js';
import type { AluaState, JsonValue, NodeAddresses } from './coordinator.js';

/**
 * The shapes of the values Tandem stores in etcd. Everything read back is parsed against them:
 * a value in another shape is TANDEM_ERR_CLUSTER_CORRUPT, never a guess.
 */
const id16 = z.number().int().min(1).max(65535);

export const nodeAddressesSchema = z.object({
  name: z.string().min(1),
  portals: z.array(z.string()),
  grpc: z.string(),
  admin: z.string(),
});

export const tpgRecordSchema = z.object({ targetPortGroupId: id16 });
export const rtpiRecordSchema = z.object({ relativePortId: id16 });
export const counterSchema = z.object({ next: z.number().int().min(1).max(65536) });
export const seedRecordSchema = z.object({ seed: z.string().min(1) });
/** The election key's value; `lease` is the session lease id (decimal string) that owns it. */
export const leaderValueSchema = z.object({ node: z.string().min(1), lease: z.string().min(1) });
export const handoverValueSchema = z.object({ from: z.string().min(1), to: z.string().min(1) });
export const datasetSchema = z.object({ id: z.string().min(1) });
export const inSyncRecordSchema = z.object({ epoch: z.number().int().min(0) });
export const prAppliedSchema = z.object({ revision: z.number().int().min(0) });

const aluaStates = [
  'active-optimized',
  'active-non-optimized',
  'standby',
  'unavailable',
  'transitioning',
  'offline',
] as const satisfies readonly AluaState[];

export const aluaValueSchema = z.object({
  epoch: z.number().int().min(1),
  primary: z.string().min(1),
  groups: z.array(z.object({ targetPortGroupId: id16, state: z.enum(aluaStates) })),
});

export function encode(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function decodeJson(key: string, raw: Buffer): JsonValue {
  try {
    return JSON.parse(raw.toString('utf8')) as JsonValue;
  } catch (cause) {
    throw new TandemError('TANDEM_ERR_CLUSTER_CORRUPT', `${key}: not JSON`, { cause });
  }
}

export function decode<T>(schema: z.ZodType<T>, key: string, raw: Buffer): T {
  const parsed = schema.safeParse(decodeJson(key, raw));
  if (!parsed.success) {
    throw new TandemError('TANDEM_ERR_CLUSTER_CORRUPT', `${key}: ${parsed.error.message}`);
  }
  return parsed.data;
}

export function parseNode(key: string, raw: Buffer): NodeAddresses {
  return decode(nodeAddressesSchema, key, raw);
}

/** etcd revisions and lease ids arrive as decimal strings (int64); revisions fit a double. */
export function revision(value: string | number | undefined): number {
  const n = Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new TandemError('TANDEM_ERR_CLUSTER_CORRUPT', `revision ${String(value)} is not a safe integer`);
  }
  return n;
}
