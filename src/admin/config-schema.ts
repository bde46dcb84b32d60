import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { TandemError } from '../util/errors.js';
import { parseSize } from '../util/size.js';

const size = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:3260');

const iqn = z
  .string()
  .regex(
    /^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/,
    'expected an iSCSI name such as iqn.2026-11.org.example:disk',
  );

const lunSchema = z.object({
  lun: z.number().int().min(0).max(16383),
  backstore: z.enum(['file', 'memory']).default('file'),
  /** File or block device; relative paths are under node.dataDir. */
  path: z.string().optional(),
  size: size.optional(),
  blockSize: z.union([z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]).default(512),
  readOnly: z.boolean().default(false),
  /** Stable identity of the volume (NAA designator and serial derive from it). */
  volumeId: z.string().optional(),
});

const targetSchema = z.object({
  iqn,
  alias: z.string().max(255).optional(),
  luns: z.array(lunSchema).default([]),
});

export const nodeConfigSchema = z.object({
  node: z
    .object({
      name: z.string().default('tandem-1'),
      dataDir: z.string().default('./data'),
    })
    .default({ name: 'tandem-1', dataDir: './data' }),
  portals: z.array(hostPort).min(1).default(['127.0.0.1:3260']),
  iscsi: z
    .object({
      nopInIntervalSeconds: z.number().min(0).default(15),
      nopInTimeoutSeconds: z.number().min(1).default(30),
      commandWindow: z.number().int().min(1).max(1024).default(128),
      maxRecvDataSegmentLength: z.number().int().min(512).max(16777215).default(262144),
    })
    .default({
      nopInIntervalSeconds: 15,
      nopInTimeoutSeconds: 30,
      commandWindow: 128,
      maxRecvDataSegmentLength: 262144,
    }),
  targets: z.array(targetSchema).default([]),
});

export type NodeConfig = z.infer<typeof nodeConfigSchema>;
export type LunConfig = z.infer<typeof lunSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;

export const DEMO_TARGET = 'iqn.2026-11.org.tandem:demo';

/** Embedded quick-start: one target, LUN 0 on a sparse 1 GiB file under ./data. */
export function embeddedDefaults(): NodeConfig {
  return nodeConfigSchema.parse({
    targets: [
      {
        iqn: DEMO_TARGET,
        alias: 'demo',
        luns: [{ lun: 0, backstore: 'file', path: 'lun0.img', size: '1G' }],
      },
    ],
  });
}

export function parseNodeConfig(text: string, source: string): NodeConfig {
  let raw: unknown;
  try {
    raw = YAML.parse(text) ?? {};
  } catch (err) {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `${source}: not valid YAML: ${(err as Error).message}`,
    );
  }
  const r = nodeConfigSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0]!;
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `${source}: ${first.path.join('.') || '(top level)'}: ${first.message}`,
    );
  }
  const cfg = r.data;
  for (const t of cfg.targets) {
    const seen = new Set<number>();
    for (const l of t.luns) {
      if (seen.has(l.lun))
        throw new TandemError('TANDEM_ERR_CONFIG_INVALID', `${source}: ${t.iqn}: LUN ${l.lun} twice`);
      seen.add(l.lun);
      if (l.backstore === 'memory' && !l.size) {
        throw new TandemError(
          'TANDEM_ERR_CONFIG_INVALID',
          `${source}: ${t.iqn} LUN ${l.lun}: a memory LU needs a size`,
        );
      }
      if (l.backstore === 'file' && !l.path) {
        throw new TandemError(
          'TANDEM_ERR_CONFIG_INVALID',
          `${source}: ${t.iqn} LUN ${l.lun}: a file LU needs a path`,
        );
      }
    }
  }
  return cfg;
}

export function loadNodeConfig(file: string): NodeConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new TandemError('TANDEM_ERR_CONFIG_INVALID', `cannot read ${file}: ${(err as Error).message}`);
  }
  const cfg = parseNodeConfig(text, file);
  // Relative data directories are relative to the config file, not to the working directory.
  cfg.node.dataDir = path.resolve(path.dirname(file), cfg.node.dataDir);
  return cfg;
}
