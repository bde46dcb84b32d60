import { TandemError } from '../util/errors.js';
import type { Membership } from './membership.js';
import { type OutgoingOp, outgoing } from './peer-link.js';
import { OpKind } from './proto.js';
import type { VolumeContext } from './volume-context.js';

/**
 * Online growth of a replicated volume, the two steps every copy takes (issue 15). The primary
 * drives them (ReplicatedVolume.requestSize): it prepares itself, then every in-sync peer and
 * every live one (RESIZE_PREPARE; a member that cannot is removed from the in-sync set first,
 * rule 2), then commits (its LU reports the new size, CAPACITY DATA HAS CHANGED) and tells the
 * peers (RESIZE_COMMIT). A peer that missed either catches up from the next Hello, which
 * carries both sizes. No copy reports a size before every in-sync copy's store holds it
 * durably, and a store never shrinks, so an interrupted resize only ever resumes: a new
 * primary whose bitmap is larger than its committed size (it was prepared) drives the same
 * resize to its end.
 */

/** Grows this copy's store and bitmap to `to`, durably, before resolving; the LU's size stays. */
export async function prepareSize(ctx: VolumeContext, to: number): Promise<void> {
  const bm = ctx.bm();
  if (to <= bm.size) return;
  const dev = ctx.device;
  const from = bm.size;
  // Before the bitmap grows, the committed size must be on record: it no longer follows from it.
  if (ctx.meta.current.size === undefined) await ctx.meta.update(() => ({ size: ctx.size }));
  if (dev.size < to) {
    if (!dev.grow) {
      throw new TandemError(
        'TANDEM_ERR_BACKSTORE_IO',
        `${ctx.o.volume}: the store ${dev.description} cannot grow to ${to} bytes`,
      );
    }
    await dev.grow(to);
  }
  // fdatasync makes the new size durable too (st_size is needed to read the data back).
  await dev.flush();
  await bm.grow(to);
  ctx.log.info({ from, to, committed: ctx.size }, 'resize prepared: store and bitmap grown durably');
}

/** This copy's LU reports `to` from now on (already prepared); the listeners queue the UA. */
export async function commitSize(ctx: VolumeContext, to: number): Promise<boolean> {
  if (to <= ctx.size) return false;
  if (to > ctx.bm().size) {
    throw new TandemError(
      'TANDEM_ERR_ASSERT',
      `${ctx.o.volume}: commit of ${to} bytes before the store and bitmap were grown (${ctx.bm().size})`,
    );
  }
  await ctx.meta.update(() => ({ size: to }));
  const from = ctx.size;
  ctx.size = to;
  ctx.log.info({ from, to }, 'resize committed: the LU reports the new capacity');
  for (const l of ctx.capacityListeners) {
    try {
      l(to);
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'a capacity listener failed');
    }
  }
  return true;
}

/**
 * At open: the committed size (metadata, else the bitmap's recorded size from before resizes
 * were recorded, else the store's) and the size the bitmap covers (never below it, never above
 * the store: a store grown at open to the configured size is not prepared until fsynced here).
 */
export function sizesAtOpen(
  metaSize: number | undefined,
  recordedBitmapSize: number | undefined,
  storeSize: number,
): { committed: number; covered: number } {
  const committed = Math.min(metaSize ?? recordedBitmapSize ?? storeSize, storeSize);
  const covered = Math.min(Math.max(committed, recordedBitmapSize ?? committed), storeSize);
  return { committed, covered };
}

/** What the resize driver needs of the primary's data path (ReplicatedVolume). */
export interface ResizeDeps {
  readonly members: Membership;
  /** Throws FENCED unless this node may still serve writes in generation `gen`. */
  checkServe(gen: number): void;
  /**
   * Sends `op` to in-sync member `node` as a write would reach it (waiting for its link within
   * the connect deadline); a member that fails or never connects leaves the in-sync set first.
   */
  mirrorToMember(node: string, op: OutgoingOp, gen: number): Promise<void>;
}

/**
 * The primary's side: grows the volume to the size asked for (the configuration's), or to the
 * size an earlier primary prepared here, one resize at a time, retried with backoff while this
 * node stays primary.
 */
export class Resizer {
  readonly #ctx: VolumeContext;
  readonly #deps: ResizeDeps;
  /** The size the configuration asks for (only growth counts). */
  #target = 0;
  #running: Promise<void> | undefined;
  #retryMs = 0;

  constructor(ctx: VolumeContext, deps: ResizeDeps) {
    this.#ctx = ctx;
    this.#deps = deps;
  }

  get target(): number {
    return this.#target;
  }

  request(size: number): void {
    if (size > this.#target) this.#target = size;
    this.kick();
  }

  /** Starts the resize this primary owes, if any (also at the start of each term). */
  kick(): void {
    const ctx = this.#ctx;
    if (!ctx.role.is('primary') || this.#running || !ctx.bitmap) return;
    const to = Math.max(this.#target, ctx.bitmap.size);
    if (to <= ctx.size) return;
    const gen = ctx.generation;
    this.#running = this.#resize(to, gen).then(
      () => {
        this.#running = undefined;
        this.#retryMs = 0;
        if (gen === ctx.generation) this.kick();
      },
      (err: unknown) => {
        this.#running = undefined;
        if (gen !== ctx.generation) {
          ctx.log.info({ to }, 'resize interrupted by a role change: the next primary finishes it');
          return;
        }
        // Retried while primary, backing off (a store that cannot grow keeps failing).
        this.#retryMs = Math.min(30_000, Math.max(1000, this.#retryMs * 2));
        ctx.log.error(
          { err: (err as Error).message, to, retryInMs: this.#retryMs },
          'resize failed: retrying',
        );
        ctx.timer(this.#retryMs, () => this.kick());
      },
    );
  }

  /**
   * Grows every copy to `to`, then reports it: this copy first, then every in-sync peer (a
   * member that cannot is removed from the set before the new size is reported, as for a write,
   * rule 2) and every other live one, then the commit here and on the peers.
   */
  async #resize(to: number, gen: number): Promise<void> {
    const ctx = this.#ctx;
    const { members, checkServe, mirrorToMember } = this.#deps;
    checkServe(gen);
    const from = ctx.size;
    ctx.log.info({ from, to }, 'resize started');
    await prepareSize(ctx, to);
    const prepare = outgoing(OpKind.RESIZE_PREPARE, 0, to);
    const asked = new Set<string>();
    const waits: Promise<unknown>[] = [];
    for (const node of members.memberNodes()) {
      asked.add(node);
      waits.push(mirrorToMember(node, prepare, gen));
    }
    for (const link of members.links.values()) {
      // Not a member: it catches up from its next Hello if this fails.
      if (!asked.has(link.node) && link.live) waits.push(link.send(prepare).catch(() => undefined));
    }
    await Promise.all(waits);
    checkServe(gen);
    await commitSize(ctx, to);
    const commit = outgoing(OpKind.RESIZE_COMMIT, 0, to);
    for (const link of members.links.values()) if (link.live) link.send(commit).catch(() => undefined);
    ctx.log.info({ from, to, peers: [...asked] }, 'resize done: every in-sync copy holds the new size');
  }
}
