/**
 * The whole cluster configuration as one YAML document (`tandemctl config export` / `import`,
 * DESIGN.md Configuration): every entry `config/<kind>/<name>` of the Coordinator, its value
 * verbatim, so export → import gives back exactly the same entries.
 *
 *   apiVersion: tandem/v1
 *   targets:                     # kind (every kind of CONFIG_KINDS, in that order)
 *     iqn.2026-11.org.tandem:demo:   # name (sorted)
 *       iqn: iqn.2026-11.org.tandem:demo   # value: identity keys first, then sorted
 *       alias: demo
 *
 * CHAP secrets (any key `secret` or `…Secret`) are replaced by SECRET_PLACEHOLDER unless asked
 * for; importing a placeholder keeps the secret stored at the same place of the same entry.
 */
import YAML from 'yaml';
import { z } from 'zod';
import { CONFIG_KINDS, type ConfigKind, type JsonValue } from '../cluster/coordinator.js';
import { TandemError } from '../util/errors.js';
import {
  CLUSTER_SETTINGS_NAME,
  clusterLunSchema,
  clusterSettingsSchema,
  clusterTargetSchema,
  volumeSchema,
} from './config-schema.js';

export const API_VERSION = 'tandem/v1';
/** 8 bytes: never a valid CHAP secret (12 to 16 bytes), so never mistaken for one. */
export const SECRET_PLACEHOLDER = '<hidden>';

export interface DocumentEntry {
  kind: ConfigKind;
  name: string;
  value: JsonValue;
}

/** Name of a LUN entry: "<target iqn>,<lun>" (as src/node/plan-reconcile.ts keys them). */
export const lunEntryName = (target: string, lun: number): string => `${target},${lun}`;

const isSecretKey = (key: string): boolean => key === 'secret' || key.endsWith('Secret');

const iqn = z
  .string()
  .regex(
    /^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/,
    'expected an iSCSI name such as iqn.2026-11.org.example:host1',
  );

/** RFC 7143 12.1.3; the placeholder stands for a secret stored in the cluster. */
const chapSecret = z.string().refine((s) => {
  if (s === SECRET_PLACEHOLDER) return true;
  const n = Buffer.byteLength(s, 'utf8');
  return n >= 12 && n <= 16;
}, 'a CHAP secret must be 12 to 16 bytes long (RFC 7143 12.1.3)');
const chapCredentials = z.object({ user: z.string().min(1).max(255), secret: chapSecret });

/**
 * A target entry: the cluster target (iqn, alias) plus access control in the embedded config's
 * shape (config-schema.ts targets[].acl / auth), and optional per-initiator LUN lists.
 */
export const targetEntrySchema = clusterTargetSchema
  .extend({
    /** Initiators allowed to log in; absent: every initiator; []: none. */
    acl: z.array(iqn).optional(),
    /** Per initiator of `acl`: the only LUNs it may see (absent: every LUN). */
    aclLuns: z.record(z.string(), z.array(z.number().int().min(0).max(16383))).optional(),
    auth: z.object({ chap: chapCredentials, mutualChap: chapCredentials.optional() }).optional(),
  })
  .superRefine((t, ctx) => {
    const m = t.auth?.mutualChap;
    if (m && m.secret !== SECRET_PLACEHOLDER && m.secret === t.auth?.chap.secret) {
      ctx.addIssue({
        code: 'custom',
        path: ['auth', 'mutualChap', 'secret'],
        message: 'chap and mutualChap must use different secrets (RFC 7143 12.1.3)',
      });
    }
  });

/** A volume entry: volumeSchema plus the replica set of a replicated volume. */
export const volumeEntrySchema = volumeSchema.extend({ replicas: z.array(z.string().min(1)).optional() });

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:3260');
/** Desired portals of one node (kind `portals`, name = node). */
export const portalsEntrySchema = z.object({ node: z.string().min(1), portals: z.array(hostPort) });

const anyObject = z.record(z.string(), z.unknown());

/** The name an entry of `kind` must have, given its value (undefined: any name). */
function expectedName(kind: ConfigKind, value: Record<string, unknown>): string | undefined {
  switch (kind) {
    case 'targets':
      return String(value.iqn);
    case 'volumes':
      return String(value.id);
    case 'luns':
      return lunEntryName(String(value.target), Number(value.lun));
    case 'portals':
      return String(value.node);
    case 'settings':
      return CLUSTER_SETTINGS_NAME;
    default:
      return undefined;
  }
}

const SCHEMA_OF: Record<ConfigKind, z.ZodType> = {
  targets: targetEntrySchema,
  volumes: volumeEntrySchema,
  luns: clusterLunSchema,
  portals: portalsEntrySchema,
  acls: anyObject,
  chap: anyObject,
  settings: clusterSettingsSchema,
};

const invalid = (message: string) => new TandemError('TANDEM_ERR_CONFIG_INVALID', message);

/** Throws TANDEM_ERR_CONFIG_INVALID naming the entry and key if `value` is not a valid `kind`. */
export function validateEntry(kind: ConfigKind, name: string, value: unknown): void {
  if (!CONFIG_KINDS.includes(kind)) throw invalid(`unknown config kind "${kind}"`);
  const r = SCHEMA_OF[kind].safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const at = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw invalid(`${kind}/${name}: ${at}${issue.message}`);
  }
  const want = expectedName(kind, value as Record<string, unknown>);
  if (want !== undefined && want !== name) {
    throw invalid(`${kind}/${name}: the name of this entry must be "${want}"`);
  }
}

/** Cross-entry rules: every LUN names an existing target and volume. */
export function validateReferences(entries: readonly DocumentEntry[]): void {
  const has = new Set(entries.map((e) => `${e.kind}/${e.name}`));
  for (const e of entries) {
    if (e.kind !== 'luns') continue;
    const l = e.value as { target: string; volume: string };
    if (!has.has(`targets/${l.target}`)) throw invalid(`luns/${e.name}: no target ${l.target}`);
    if (!has.has(`volumes/${l.volume}`)) throw invalid(`luns/${e.name}: no volume ${l.volume}`);
  }
}

const LEADING_KEYS: Record<ConfigKind, readonly string[]> = {
  targets: ['iqn', 'alias'],
  volumes: ['id', 'kind', 'size', 'blockSize'],
  luns: ['target', 'lun', 'volume'],
  portals: ['node', 'portals'],
  acls: [],
  chap: [],
  settings: [],
};

/** Same value, keys in a stable order (`leading` first, then sorted; nested objects sorted). */
function canonical(v: JsonValue, leading: readonly string[] = []): JsonValue {
  if (Array.isArray(v)) return v.map((x) => canonical(x));
  if (v === null || typeof v !== 'object') return v;
  const keys = Object.keys(v);
  const first = leading.filter((k) => keys.includes(k));
  const rest = keys.filter((k) => !leading.includes(k)).sort();
  const out: { [key: string]: JsonValue } = {};
  for (const k of [...first, ...rest]) out[k] = canonical(v[k]!);
  return out;
}

function redact(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(redact);
  if (v === null || typeof v !== 'object') return v;
  const out: { [key: string]: JsonValue } = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = isSecretKey(k) && typeof x === 'string' ? SECRET_PLACEHOLDER : redact(x);
  }
  return out;
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The configuration as one YAML document. */
export function exportDocument(
  entries: readonly DocumentEntry[],
  opts: { showSecrets?: boolean; comment?: string } = {},
): string {
  const doc: { [key: string]: JsonValue } = { apiVersion: API_VERSION };
  for (const kind of CONFIG_KINDS) {
    const section: { [key: string]: JsonValue } = {};
    for (const e of entries.filter((x) => x.kind === kind).sort(byName)) {
      const v = canonical(e.value, LEADING_KEYS[kind]);
      section[e.name] = opts.showSecrets ? v : redact(v);
    }
    doc[kind] = section;
  }
  const d = new YAML.Document(doc);
  if (opts.comment) d.commentBefore = ` ${opts.comment.split('\n').join('\n ')}`;
  return d.toString({ lineWidth: 0 });
}

/**
 * Parses and validates a document (secret placeholders left in place). Throws
 * TANDEM_ERR_CONFIG_INVALID naming the source and the offending entry.
 */
export function parseDocument(text: string, source = 'document'): DocumentEntry[] {
  let raw: unknown;
  try {
    raw = YAML.parse(text, { uniqueKeys: true });
  } catch (err) {
    throw invalid(`${source}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid(`${source}: expected a mapping with apiVersion: ${API_VERSION}`);
  }
  const top = raw as Record<string, unknown>;
  if (top.apiVersion !== API_VERSION) {
    throw invalid(`${source}: apiVersion must be ${API_VERSION}, got ${JSON.stringify(top.apiVersion)}`);
  }
  const entries: DocumentEntry[] = [];
  for (const [key, section] of Object.entries(top)) {
    if (key === 'apiVersion') continue;
    if (!(CONFIG_KINDS as readonly string[]).includes(key)) {
      throw invalid(`${source}: unknown section "${key}" (expected ${CONFIG_KINDS.join(', ')})`);
    }
    const kind = key as ConfigKind;
    if (section === null || section === undefined) continue;
    if (typeof section !== 'object' || Array.isArray(section)) {
      throw invalid(`${source}: ${kind}: expected a mapping of name → value`);
    }
    for (const [name, value] of Object.entries(section as Record<string, unknown>)) {
      try {
        validateEntry(kind, name, value);
      } catch (err) {
        throw invalid(`${source}: ${(err as Error).message}`);
      }
      entries.push({ kind, name, value: value as JsonValue });
    }
  }
  try {
    validateReferences(entries);
  } catch (err) {
    throw invalid(`${source}: ${(err as Error).message}`);
  }
  return entries;
}

/**
 * Replaces every secret placeholder with the secret stored at the same place of the same entry
 * in `current`; throws TANDEM_ERR_CONFIG_INVALID when there is none.
 */
export function resolveSecrets(
  entries: readonly DocumentEntry[],
  current: readonly DocumentEntry[],
  source = 'document',
): DocumentEntry[] {
  const stored = new Map(current.map((e) => [`${e.kind}/${e.name}`, e.value]));
  const walk = (v: JsonValue, old: JsonValue | undefined, at: string[], entry: string): JsonValue => {
    if (v === SECRET_PLACEHOLDER && isSecretKey(at[at.length - 1] ?? '')) {
      if (typeof old === 'string' && old !== SECRET_PLACEHOLDER) return old;
      throw invalid(
        `${source}: ${entry}: ${at.join('.')} is ${SECRET_PLACEHOLDER} but the cluster stores no secret there — ` +
          'put the secret in the document (export with --show-secrets) or set it with tandemctl chap set',
      );
    }
    if (Array.isArray(v)) {
      return v.map((x, i) => walk(x, Array.isArray(old) ? old[i] : undefined, [...at, String(i)], entry));
    }
    if (v === null || typeof v !== 'object') return v;
    const o = old !== null && typeof old === 'object' && !Array.isArray(old) ? old : undefined;
    const out: { [key: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, o?.[k], [...at, k], entry);
    return out;
  };
  return entries.map((e) => ({
    ...e,
    value: walk(e.value, stored.get(`${e.kind}/${e.name}`), [], `${e.kind}/${e.name}`),
  }));
}

/** parseDocument + resolveSecrets against the configuration stored now. */
export function importDocument(
  text: string,
  current: readonly DocumentEntry[],
  source = 'document',
): DocumentEntry[] {
  return resolveSecrets(parseDocument(text, source), current, source);
}

function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

export interface ConfigDiff {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: number;
}

/** What replacing `current` by `next` changes ("<kind>/<name>", sorted). */
export function diffConfig(current: readonly DocumentEntry[], next: readonly DocumentEntry[]): ConfigDiff {
  const cur = new Map(current.map((e) => [`${e.kind}/${e.name}`, e.value]));
  const nxt = new Map(next.map((e) => [`${e.kind}/${e.name}`, e.value]));
  const d: ConfigDiff = { added: [], changed: [], removed: [], unchanged: 0 };
  for (const [k, v] of nxt) {
    const old = cur.get(k);
    if (old === undefined) d.added.push(k);
    else if (!jsonEqual(old, v)) d.changed.push(k);
    else d.unchanged++;
  }
  for (const k of cur.keys()) if (!nxt.has(k)) d.removed.push(k);
  d.added.sort();
  d.changed.sort();
  d.removed.sort();
  return d;
}
