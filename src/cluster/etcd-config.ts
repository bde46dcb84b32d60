import type { ICompare, IRequestOp } from 'etcd3';
import { TandemError } from '../util/errors.js';
import type {
  ConfigEntry,
  ConfigEvent,
  ConfigKind,
  ConfigStore,
  JsonValue,
  Subscription,
} from './coordinator.js';
import { cmp, op } from './etcd-kv.js';
import type { EtcdPartContext } from './etcd-part.js';
import type { KeyValue } from './etcd-watch.js';
import { decodeJson } from './records.js';

/** The desired configuration on etcd: one key per object, `config/<kind>/<name>`. */
export class EtcdConfig implements ConfigStore {
  readonly #ctx: EtcdPartContext;

  constructor(ctx: EtcdPartContext) {
    this.#ctx = ctx;
  }

  async readConfig(): Promise<{ revision: number; entries: ConfigEntry[] }> {
    const res = await this.#ctx.kv.list(this.#ctx.keys.config(), 'read config');
    return { revision: res.revision, entries: res.kvs.flatMap((kv) => this.#entry(kv)) };
  }

  async putConfig(
    kind: ConfigKind,
    name: string,
    value: JsonValue,
    expectedRevision?: number,
  ): Promise<number> {
    const { kv, keys } = this.#ctx;
    kv.assertOpen();
    const key = keys.configKey(kind, name);
    const res = await kv.txn('put config', {
      compare: unchangedSince(key, expectedRevision),
      success: [op.put(key, value)],
    });
    if (!res.succeeded) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `${kind}/${name} changed since revision ${expectedRevision}`,
      );
    }
    return res.revision;
  }

  async deleteConfig(kind: ConfigKind, name: string, expectedRevision?: number): Promise<boolean> {
    const { kv, keys } = this.#ctx;
    kv.assertOpen();
    const key = keys.configKey(kind, name);
    const res = await kv.txn('delete config', {
      compare: unchangedSince(key, expectedRevision),
      // A volume's mode parameters go with it: a new volume of the same name starts from the
      // defaults, not from what an initiator set on the old one.
      success: kind === 'volumes' ? [op.delete(key), op.delete(keys.modePagesOf(name))] : [op.delete(key)],
    });
    if (!res.succeeded) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `${kind}/${name} changed since revision ${expectedRevision}`,
      );
    }
    return res.deleted[0]! > 0;
  }

  async replaceConfig(
    entries: readonly { kind: ConfigKind; name: string; value: JsonValue }[],
    expectedRevision?: number,
  ): Promise<number> {
    const { kv, keys } = this.#ctx;
    kv.assertOpen();
    const current = await this.readConfig();
    const wanted = new Map(entries.map((e) => [keys.configKey(e.kind, e.name), e.value]));
    const ops: IRequestOp[] = [];
    for (const e of current.entries) {
      const key = keys.configKey(e.kind, e.name);
      if (wanted.has(key)) continue;
      ops.push(op.delete(key));
      if (e.kind === 'volumes') ops.push(op.delete(keys.modePagesOf(e.name)));
    }
    for (const [key, value] of wanted) ops.push(op.put(key, value));
    // Nothing under config/ may have changed since the caller read it (nor since we did).
    const since = Math.min(expectedRevision ?? current.revision, current.revision);
    const res = await kv.txn('replace config', {
      compare: [cmp.prefixUnchangedSince(keys.config(), since)],
      success: ops,
    });
    if (!res.succeeded) {
      throw new TandemError(
        'TANDEM_ERR_CLUSTER_CONFLICT',
        `the configuration changed after revision ${since}; read it again and retry`,
      );
    }
    return res.revision;
  }

  async watchConfig(listener: (event: ConfigEvent) => void): Promise<Subscription> {
    const { kv, keys } = this.#ctx;
    return kv.watch(
      { key: keys.config(), prefix: true },
      {
        snapshot: (kvs, rev) =>
          listener({ type: 'snapshot', revision: rev, entries: kvs.flatMap((e) => this.#entry(e)) }),
        change: (ev, rev) => {
          const id = keys.parseConfigKey(ev.key);
          if (!id) return;
          if (ev.type === 'delete') listener({ type: 'delete', revision: rev, kind: id.kind, name: id.name });
          else {
            const [entry] = this.#entry(ev);
            if (entry) listener({ type: 'put', revision: rev, entry });
          }
        },
      },
    );
  }

  #entry(kv: KeyValue): ConfigEntry[] {
    const id = this.#ctx.keys.parseConfigKey(kv.key);
    if (!id) {
      this.#ctx.logger.warn({ key: kv.key }, 'ignoring a key under config/ that Tandem did not write');
      return [];
    }
    return [{ ...id, value: decodeJson(kv.key, kv.value), revision: kv.modRevision }];
  }
}

function unchangedSince(key: string, expectedRevision: number | undefined): ICompare[] {
  return expectedRevision === undefined ? [] : [cmp.unchanged(key, expectedRevision)];
}
