import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { TandemError } from '../util/errors.js';
import type { IdentityStore, NodeAddresses, PortGroup, PortId } from './coordinator.js';
import { cmp, op } from './etcd-kv.js';
import type { EtcdPartContext } from './etcd-part.js';
import { counterSchema, decode, rtpiRecordSchema, seedRecordSchema, tpgRecordSchema } from './records.js';

const MAX_CAS_ATTEMPTS = 100;

/** Cluster-unique ids on etcd, allocated once and never reused (DESIGN.md Identity). */
export class EtcdIdentity implements IdentityStore {
  readonly #ctx: EtcdPartContext;
  readonly #node: NodeAddresses;

  constructor(ctx: EtcdPartContext, node: NodeAddresses) {
    this.#ctx = ctx;
    this.#node = node;
  }

  async allocatePortGroup(): Promise<PortGroup> {
    const { kv, keys, nodeName } = this.#ctx;
    kv.assertOpen();
    const targetPortGroupId = await this.#allocateId(
      keys.tpgCounter(),
      keys.tpg(nodeName),
      tpgRecordSchema,
      (n) => ({ targetPortGroupId: n }),
      (r) => r.targetPortGroupId,
    );
    const ports: PortId[] = [];
    for (const portal of this.#node.portals) {
      const relativePortId = await this.#allocateId(
        keys.rtpiCounter(),
        keys.rtpi(nodeName, portal),
        rtpiRecordSchema,
        (n) => ({ relativePortId: n }),
        (r) => r.relativePortId,
      );
      ports.push({ portal, relativePortId });
    }
    ports.sort((a, b) => a.relativePortId - b.relativePortId);
    return { node: nodeName, targetPortGroupId, ports };
  }

  async portGroups(): Promise<PortGroup[]> {
    const { kv, keys } = this.#ctx;
    const res = await kv.read('read port groups', [
      { key: keys.tpgs(), prefix: true },
      { key: keys.rtpis(), prefix: true },
    ]);
    const groups = new Map<string, { targetPortGroupId: number; ports: PortId[] }>();
    for (const entry of res.ranges[0]!) {
      const [node] = keys.rest(keys.tpgs(), entry.key);
      const rec = decode(tpgRecordSchema, entry.key, entry.value);
      groups.set(node!, { targetPortGroupId: rec.targetPortGroupId, ports: [] });
    }
    for (const entry of res.ranges[1]!) {
      const [node, portal] = keys.rest(keys.rtpis(), entry.key);
      const rec = decode(rtpiRecordSchema, entry.key, entry.value);
      groups.get(node!)?.ports.push({ portal: portal!, relativePortId: rec.relativePortId });
    }
    return [...groups]
      .map(([node, g]) => ({
        node,
        targetPortGroupId: g.targetPortGroupId,
        ports: g.ports.sort((a, b) => a.relativePortId - b.relativePortId),
      }))
      .sort((a, b) => a.targetPortGroupId - b.targetPortGroupId);
  }

  async volumeSeed(volume: string, proposal?: string): Promise<string> {
    const { kv, keys, logger } = this.#ctx;
    kv.assertOpen();
    const key = keys.seed(volume);
    const seed = proposal ?? randomBytes(16).toString('hex');
    const res = await kv.createIfAbsent('volume seed', key, [op.put(key, { seed })]);
    if (res.created) {
      logger.info({ volume, seed }, 'volume identity seed created');
      return seed;
    }
    return decode(seedRecordSchema, key, res.existing!.value).seed;
  }

  /**
   * Allocates a number once: if `idKey` exists, its number; else the counter's next value, taken
   * in one transaction that also requires the counter unchanged since read (CAS on its mod
   * revision) and `idKey` still absent. Numbers are never reused.
   */
  async #allocateId<R>(
    counterKey: string,
    idKey: string,
    schema: z.ZodType<R>,
    make: (n: number) => R,
    numberOf: (r: R) => number,
  ): Promise<number> {
    const { kv, logger } = this.#ctx;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const read = await kv.read('read id', [idKey, counterKey]);
      const existing = read.ranges[0]![0];
      if (existing) return numberOf(decode(schema, idKey, existing.value));
      const counter = read.ranges[1]![0];
      const next = counter ? decode(counterSchema, counterKey, counter.value).next : 1;
      const counterMod = counter ? counter.modRevision : 0;
      if (next > 65535) {
        throw new TandemError(
          'TANDEM_ERR_CLUSTER_IDS_EXHAUSTED',
          `${counterKey}: every id 1..65535 is taken`,
        );
      }
      const res = await kv.txn('allocate id', {
        compare: [cmp.absent(idKey), cmp.unchanged(counterKey, counterMod)],
        success: [op.put(idKey, make(next)), op.put(counterKey, { next: next + 1 })],
      });
      if (res.succeeded) {
        logger.info({ key: idKey, id: next }, 'cluster id allocated');
        return next;
      }
    }
    throw new TandemError('TANDEM_ERR_CLUSTER_CONFLICT', `${idKey}: allocation kept losing races`, {
      retryable: true,
    });
  }
}
