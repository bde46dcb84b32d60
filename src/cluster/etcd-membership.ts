import type { IRequestOp } from 'etcd3';
import type { Membership, NodeAddresses, Subscription } from './coordinator.js';
import { op } from './etcd-kv.js';
import type { EtcdPartContext } from './etcd-part.js';
import type { SessionLease } from './etcd-session.js';
import { decode, nodeAddressesSchema } from './records.js';

/** Membership on etcd: one key per live node, on its session lease (gone when the node is). */
export class EtcdMembership implements Membership {
  readonly #ctx: EtcdPartContext;
  readonly #node: NodeAddresses;

  constructor(ctx: EtcdPartContext, node: NodeAddresses) {
    this.#ctx = ctx;
    this.#node = node;
  }

  async members(): Promise<NodeAddresses[]> {
    const { kvs } = await this.#ctx.kv.list(this.#ctx.keys.members());
    return kvs.map((kv) => decode(nodeAddressesSchema, kv.key, kv.value)).sort(byName);
  }

  async watchMembers(listener: (members: NodeAddresses[]) => void): Promise<Subscription> {
    const current = new Map<string, NodeAddresses>();
    const deliver = () => listener([...current.values()].sort(byName));
    return this.#ctx.kv.watch(
      { key: this.#ctx.keys.members(), prefix: true },
      {
        snapshot: (kvs) => {
          current.clear();
          for (const kv of kvs) current.set(kv.key, decode(nodeAddressesSchema, kv.key, kv.value));
          deliver();
        },
        change: (ev) => {
          if (ev.type === 'delete') current.delete(ev.key);
          else current.set(ev.key, decode(nodeAddressesSchema, ev.key, ev.value));
          deliver();
        },
      },
    );
  }

  /** Puts the member key, and `extra` ops (leased acknowledgements), on `lease`. */
  async register(lease: SessionLease, extra: readonly IRequestOp[]): Promise<void> {
    const { kv, keys, logger, nodeName } = this.#ctx;
    await kv.txn(
      'register member',
      { success: [op.put(keys.member(nodeName), this.#node, lease.id), ...extra] },
      { signal: lease.signal, deadlineMs: 60_000, logger },
    );
    logger.info({ lease: lease.id, generation: lease.generation }, 'member registered');
  }
}

function byName(a: NodeAddresses, b: NodeAddresses): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
