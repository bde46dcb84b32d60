/**
 * What tandemctl's configuration commands do, over the generic config RPCs: each reads the
 * entries it depends on, checks the rules a person expects (no deleting a mapped volume, no
 * shrinking by accident), and writes with compare-and-set so a concurrent change is never lost.
 *
 * Where things live (etcd `config/<kind>/<name>`, see config-document.ts for the schemas):
 *   volumes/<id>            volumeSchema value (+ replicas)
 *   targets/<iqn>           { iqn, alias?, acl?, aclLuns?, auth? } — ACLs and CHAP inside the
 *                           target, in the embedded config's shape (targets[].acl / auth)
 *   luns/<iqn>,<lun>        { target, lun, volume }
 *   portals/<node>          { node, portals: [HOST:PORT…] } — desired portals of a node
 */
import type { ConfigKind, JsonValue } from '../cluster/coordinator.js';
import { parseSize } from '../util/size.js';
import type { ConfigEntryView } from './admin-client.js';
import { formatBytes } from './admin-format.js';
import { lunEntryName, validateEntry, volumeEntrySchema } from './config-document.js';

/** The config calls the operations need (AdminClient has them). */
export interface ConfigStore {
  listConfig(kind?: ConfigKind): Promise<{ revision: number; entries: ConfigEntryView[] }>;
  getConfig(kind: ConfigKind, name: string): Promise<ConfigEntryView | undefined>;
  putConfig(kind: ConfigKind, name: string, value: JsonValue, expectedRevision?: number): Promise<number>;
  deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean>;
}

/** An operation refused before anything changed: `message` is why, `hint` what to do. */
export class RefusedError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'RefusedError';
    this.hint = hint;
  }
}

type Obj = { [key: string]: JsonValue };

export interface TargetValue {
  iqn: string;
  alias?: string;
  acl?: string[];
  aclLuns?: Record<string, number[]>;
  auth?: { chap: { user: string; secret: string }; mutualChap?: { user: string; secret: string } };
}

export interface LunValue {
  target: string;
  lun: number;
  volume: string;
}

const isConflict = (err: unknown) => {
  const e = err as { tandemCode?: unknown; code?: unknown };
  return e?.tandemCode === 'TANDEM_ERR_CLUSTER_CONFLICT' || e?.code === 'TANDEM_ERR_CLUSTER_CONFLICT';
};

/**
 * Read-modify-write of one entry with compare-and-set, retried (a few times) when another
 * writer got in between. `fn` gets the current value (undefined: absent) and returns the new one.
 */
export async function update<T>(
  store: ConfigStore,
  kind: ConfigKind,
  name: string,
  fn: (current: T | undefined) => T,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const cur = await store.getConfig(kind, name);
    const next = fn(cur?.value as T | undefined);
    try {
      await store.putConfig(kind, name, next as JsonValue, cur?.revision ?? 0);
      return next;
    } catch (err) {
      if (!isConflict(err) || attempt >= 4) throw err;
    }
  }
}

async function mustGet<T>(store: ConfigStore, kind: ConfigKind, name: string, what: string, hint: string) {
  const e = await store.getConfig(kind, name);
  if (!e) throw new RefusedError(`no ${what} ${name}`, hint);
  return { value: e.value as T, revision: e.revision };
}

function validated(kind: ConfigKind, name: string, value: JsonValue): JsonValue {
  try {
    validateEntry(kind, name, value);
  } catch (err) {
    throw new RefusedError((err as Error).message, 'fix the value and try again');
  }
  return value;
}

async function lunsOf(store: ConfigStore): Promise<LunValue[]> {
  return (await store.listConfig('luns')).entries.map((e) => e.value as unknown as LunValue);
}

// ---- volumes ---------------------------------------------------------------------------------

export interface VolumeCreateOptions {
  size: string;
  kind?: string;
  blockSize?: number;
  path?: string;
  standby?: boolean;
  readOnly?: boolean;
  replicas?: string[];
  minInSync?: number;
}

export async function volumeCreate(store: ConfigStore, id: string, o: VolumeCreateOptions): Promise<Obj> {
  const raw = {
    id,
    kind: o.kind ?? 'replicated',
    size: o.size,
    blockSize: o.blockSize ?? 512,
    ...(o.path ? { path: o.path } : {}),
    standby: o.standby ?? false,
    readOnly: o.readOnly ?? false,
    ...(o.replicas && o.replicas.length > 0 ? { replicas: o.replicas } : {}),
    ...(o.minInSync !== undefined ? { minInSync: o.minInSync } : {}),
  };
  const r = volumeEntrySchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new RefusedError(
      `volume ${id}: ${i.path.join('.') || 'value'}: ${i.message}`,
      'see tandemctl volume create --help',
    );
  }
  const value = JSON.parse(JSON.stringify(r.data)) as Obj;
  const size = value.size as number;
  if (size % (value.blockSize as number) !== 0) {
    throw new RefusedError(
      `volume ${id}: size ${size} is not a multiple of the block size ${value.blockSize}`,
      'choose a size in whole blocks',
    );
  }
  if (value.kind === 'shared' && value.replicas) {
    throw new RefusedError(
      `volume ${id}: --replicas is for replicated volumes`,
      'drop --replicas or use --kind replicated',
    );
  }
  if (value.minInSync !== undefined && value.kind !== 'replicated') {
    throw new RefusedError(`volume ${id}: --min-in-sync is for replicated volumes`, 'drop --min-in-sync');
  }
  const listed = Array.isArray(value.replicas) ? value.replicas.length : undefined;
  if (listed !== undefined && typeof value.minInSync === 'number' && value.minInSync > listed) {
    throw new RefusedError(
      `volume ${id}: --min-in-sync ${value.minInSync} is more than its ${listed} replicas: no write could be accepted`,
      'lower --min-in-sync or add replicas',
    );
  }
  if (await store.getConfig('volumes', id)) {
    throw new RefusedError(`volume ${id} already exists`, 'choose another id, or tandemctl volume resize');
  }
  try {
    await store.putConfig('volumes', id, validated('volumes', id, value), 0);
  } catch (err) {
    if (isConflict(err)) throw new RefusedError(`volume ${id} already exists`, 'choose another id');
    throw err;
  }
  return value;
}

export async function volumeResize(
  store: ConfigStore,
  id: string,
  sizeText: string,
  force: boolean,
): Promise<{ from: number; to: number }> {
  let size: number;
  try {
    size = parseSize(sizeText);
  } catch (err) {
    throw new RefusedError((err as Error).message, 'use e.g. --size 8G');
  }
  let from = 0;
  await update<Obj>(store, 'volumes', id, (cur) => {
    if (!cur) throw new RefusedError(`no volume ${id}`, 'tandemctl volume list shows the volumes');
    from = typeof cur.size === 'number' ? cur.size : 0;
    const bs = (cur.blockSize as number | undefined) ?? 512;
    if (size % bs !== 0) {
      throw new RefusedError(
        `volume ${id}: size ${size} is not a multiple of the block size ${bs}`,
        'choose a size in whole blocks',
      );
    }
    if (size < from && !force) {
      throw new RefusedError(
        `volume ${id}: ${formatBytes(size)} is smaller than its ${formatBytes(from)}: shrinking loses the data past the new end`,
        'add --force if that is really what you want',
      );
    }
    return { ...cur, size };
  });
  return { from, to: size };
}

/** `volume set`: the settings that change live (minInSync: a whole number ≥ 1, or undefined to drop it). */
export async function volumeSet(
  store: ConfigStore,
  id: string,
  o: { minInSync?: number | undefined },
): Promise<Obj> {
  return update<Obj>(store, 'volumes', id, (cur) => {
    if (!cur) throw new RefusedError(`no volume ${id}`, 'tandemctl volume list shows the volumes');
    if (cur.kind !== 'replicated') {
      throw new RefusedError(`volume ${id} is not replicated: minInSync does not apply`, 'nothing to do');
    }
    const { minInSync: _old, ...rest } = cur;
    const next: Obj = o.minInSync === undefined ? rest : { ...rest, minInSync: o.minInSync };
    return validated('volumes', id, next) as Obj;
  });
}

/**
 * `volume replicas add|remove`: one node more or less in a replicated volume's replica set.
 * `current` is the set in force (the configured list, or every node when none is configured:
 * status reports it). The node that serves the volume checks the change again (replica-policy.ts):
 * a new replica is resynced in full before it joins the in-sync set; the last in-sync copy and
 * the primary cannot be removed.
 */
export async function volumeReplicas(
  store: ConfigStore,
  id: string,
  change: 'add' | 'remove',
  node: string,
  current: readonly string[],
): Promise<string[]> {
  const v = await update<Obj>(store, 'volumes', id, (cur) => {
    if (!cur) throw new RefusedError(`no volume ${id}`, 'tandemctl volume list shows the volumes');
    if (cur.kind !== 'replicated') {
      throw new RefusedError(`volume ${id} is not replicated: it has no replicas`, 'nothing to do');
    }
    const have = Array.isArray(cur.replicas) ? (cur.replicas as string[]) : [...current];
    if (change === 'add' && have.includes(node)) {
      throw new RefusedError(`${node} already holds a replica of ${id}`, 'tandemctl status shows its state');
    }
    if (change === 'remove' && !have.includes(node)) {
      throw new RefusedError(
        `${node} holds no replica of ${id} (replicas: ${have.join(', ')})`,
        'nothing to do',
      );
    }
    const replicas = change === 'add' ? [...have, node] : have.filter((n) => n !== node);
    return validated('volumes', id, { ...cur, replicas }) as Obj;
  });
  return v.replicas as string[];
}

export async function volumeDelete(store: ConfigStore, id: string): Promise<void> {
  const v = await mustGet<Obj>(store, 'volumes', id, 'volume', 'tandemctl volume list shows the volumes');
  const maps = (await lunsOf(store)).filter((l) => l.volume === id);
  if (maps.length > 0) {
    const which = maps.map((l) => `${l.target} LUN ${l.lun}`).join(', ');
    throw new RefusedError(`volume ${id} is mapped by ${which}`, 'tandemctl lun unmap it first');
  }
  await store.deleteConfig('volumes', id, v.revision);
}

// ---- LUNs ------------------------------------------------------------------------------------

export async function lunMap(store: ConfigStore, target: string, lun: number, volume: string): Promise<void> {
  if (!Number.isInteger(lun) || lun < 0 || lun > 16383) {
    throw new RefusedError(`LUN ${lun} is out of range`, 'use 0 to 16383');
  }
  await mustGet(store, 'targets', target, 'target', 'tandemctl target create it first');
  await mustGet(store, 'volumes', volume, 'volume', 'tandemctl volume create it first');
  const name = lunEntryName(target, lun);
  const existing = await store.getConfig('luns', name);
  if (existing) {
    const l = existing.value as unknown as LunValue;
    throw new RefusedError(
      `${target} LUN ${lun} already maps volume ${l.volume}`,
      'tandemctl lun unmap it first',
    );
  }
  const value: LunValue = { target, lun, volume };
  try {
    await store.putConfig('luns', name, validated('luns', name, value as unknown as Obj), 0);
  } catch (err) {
    if (isConflict(err))
      throw new RefusedError(`${target} LUN ${lun} was just mapped by someone else`, 'tandemctl lun list');
    throw err;
  }
}

export async function lunUnmap(store: ConfigStore, target: string, lun: number): Promise<void> {
  if (!(await store.deleteConfig('luns', lunEntryName(target, lun)))) {
    throw new RefusedError(`${target} has no LUN ${lun}`, 'tandemctl lun list shows the mappings');
  }
}

// ---- targets, ACLs, CHAP -----------------------------------------------------------------------

export async function targetCreate(store: ConfigStore, iqn: string, alias?: string): Promise<void> {
  const value = validated('targets', iqn, { iqn, ...(alias ? { alias } : {}) });
  if (await store.getConfig('targets', iqn)) {
    throw new RefusedError(`target ${iqn} already exists`, 'tandemctl target list shows the targets');
  }
  try {
    await store.putConfig('targets', iqn, value, 0);
  } catch (err) {
    if (isConflict(err)) throw new RefusedError(`target ${iqn} already exists`, 'tandemctl target list');
    throw err;
  }
}

/** Deletes a target; with `force` its LUN mappings first (returns them). */
export async function targetDelete(store: ConfigStore, iqn: string, force: boolean): Promise<LunValue[]> {
  const t = await mustGet(store, 'targets', iqn, 'target', 'tandemctl target list shows the targets');
  const maps = (await lunsOf(store)).filter((l) => l.target === iqn);
  if (maps.length > 0 && !force) {
    throw new RefusedError(
      `target ${iqn} still has LUN ${maps.map((l) => l.lun).join(', ')}`,
      'unmap them first, or add --force to unmap them too',
    );
  }
  for (const l of maps) await store.deleteConfig('luns', lunEntryName(iqn, l.lun));
  await store.deleteConfig('targets', iqn, t.revision);
  return maps;
}

const noTarget = (iqn: string) =>
  new RefusedError(`no target ${iqn}`, 'tandemctl target list shows the targets');

function checkedTarget(iqn: string, value: TargetValue): TargetValue {
  validated('targets', iqn, value as unknown as Obj);
  return value;
}

export async function aclAdd(
  store: ConfigStore,
  target: string,
  initiator: string,
  luns?: number[],
): Promise<TargetValue> {
  return update<TargetValue>(store, 'targets', target, (cur) => {
    if (!cur) throw noTarget(target);
    const acl = [...new Set([...(cur.acl ?? []), initiator])].sort();
    const next: TargetValue = { ...cur, acl };
    const aclLuns = { ...(cur.aclLuns ?? {}) };
    if (luns) aclLuns[initiator] = [...new Set(luns)].sort((a, b) => a - b);
    else delete aclLuns[initiator];
    if (Object.keys(aclLuns).length > 0) next.aclLuns = aclLuns;
    else delete next.aclLuns;
    return checkedTarget(target, next);
  });
}

export async function aclRemove(store: ConfigStore, target: string, initiator: string): Promise<TargetValue> {
  return update<TargetValue>(store, 'targets', target, (cur) => {
    if (!cur) throw noTarget(target);
    if (!cur.acl?.includes(initiator)) {
      throw new RefusedError(
        `${initiator} is not in the ACL of ${target}`,
        'tandemctl target list shows the ACLs',
      );
    }
    const next: TargetValue = { ...cur, acl: cur.acl.filter((i) => i !== initiator) };
    if (cur.aclLuns) {
      const { [initiator]: _gone, ...rest } = cur.aclLuns;
      if (Object.keys(rest).length > 0) next.aclLuns = rest;
      else delete next.aclLuns;
    }
    return next;
  });
}

/** Removes the ACL: every initiator may log in again. */
export async function aclClear(store: ConfigStore, target: string): Promise<void> {
  await update<TargetValue>(store, 'targets', target, (cur) => {
    if (!cur) throw noTarget(target);
    const { acl: _a, aclLuns: _l, ...rest } = cur;
    return rest;
  });
}

export interface ChapSettings {
  user: string;
  secret: string;
  mutualUser?: string;
  mutualSecret?: string;
}

export async function chapSet(store: ConfigStore, target: string, c: ChapSettings): Promise<void> {
  await update<TargetValue>(store, 'targets', target, (cur) => {
    if (!cur) throw noTarget(target);
    const auth: NonNullable<TargetValue['auth']> = { chap: { user: c.user, secret: c.secret } };
    if (c.mutualUser !== undefined && c.mutualSecret !== undefined) {
      auth.mutualChap = { user: c.mutualUser, secret: c.mutualSecret };
    }
    return checkedTarget(target, { ...cur, auth });
  });
}

export async function chapClear(store: ConfigStore, target: string): Promise<void> {
  await update<TargetValue>(store, 'targets', target, (cur) => {
    if (!cur) throw noTarget(target);
    const { auth: _a, ...rest } = cur;
    return rest;
  });
}

// ---- portals (desired state) -------------------------------------------------------------------

export async function portalAdd(store: ConfigStore, node: string, hostPort: string): Promise<string[]> {
  const v = await update<{ node: string; portals: string[] }>(store, 'portals', node, (cur) => {
    const portals = cur?.portals ?? [];
    if (portals.includes(hostPort)) {
      throw new RefusedError(`node ${node} already has portal ${hostPort}`, 'nothing to do');
    }
    const next = { node, portals: [...portals, hostPort] };
    validated('portals', node, next);
    return next;
  });
  return v.portals;
}

export async function portalRemove(store: ConfigStore, node: string, hostPort: string): Promise<string[]> {
  const cur = await store.getConfig('portals', node);
  const portals = (cur?.value as { portals?: string[] } | undefined)?.portals ?? [];
  if (!cur || !portals.includes(hostPort)) {
    throw new RefusedError(
      `node ${node} has no portal ${hostPort} in the configuration`,
      'tandemctl status shows the portals',
    );
  }
  const rest = portals.filter((p) => p !== hostPort);
  if (rest.length === 0) await store.deleteConfig('portals', node, cur.revision);
  else await store.putConfig('portals', node, { node, portals: rest }, cur.revision);
  return rest;
}
