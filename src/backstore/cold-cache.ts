/**
 * Whether a FileDevice read tries the page cache on the event loop directly, probes first, or
 * goes to the thread pool (see FileReads), on the path without a mapping of the file (the
 * mapped path checks every read with mincore instead).
 *
 * preadv2(RWF_NOWAIT) returns EAGAIN for what is not cached, but only after it started the
 * readahead for it (mm/filemap.c filemap_get_pages: page_cache_sync_readahead comes before the
 * EAGAIN): allocating the pages, mapping the blocks (which can read extent metadata) and
 * submitting the bio, on the loop. Measured on a cold 512 MiB file at queue depth 32: 8-11 µs
 * per miss against 2.5 µs per hit. So after a miss, reads probe first (cachestat(2): no I/O,
 * about 1 µs) and go to the pool untried when the probe says a page is missing; after
 * `warmAfter` probed hits in a row the cache is taken as warm and reads stop probing. Without a
 * probe (Linux before 6.5, an old native helper) reads go to the pool for `retryMs` after a
 * miss, so at most one inline miss per `retryMs`.
 */
export interface ColdCachePolicyOptions {
  /** Probed hits in a row after which reads stop probing (default 256). */
  warmAfter?: number;
  /** Without a probe: how long reads go to the pool untried after a miss (default 250 ms). */
  retryMs?: number;
  /** The clock, in milliseconds (default performance.now). */
  now?: () => number;
}

/** 'inline': readNoWait straight away; 'probe': isCached first; 'pool': the thread pool. */
export type ReadRoute = 'inline' | 'probe' | 'pool';

export class ColdCachePolicy {
  readonly #warmAfter: number;
  readonly #retryMs: number;
  readonly #now: () => number;
  #probe: boolean;
  #cold = false;
  #hitsInRow = 0;
  #missAt = 0;

  constructor(probe: boolean, opts: ColdCachePolicyOptions = {}) {
    this.#probe = probe;
    this.#warmAfter = opts.warmAfter ?? 256;
    this.#retryMs = opts.retryMs ?? 250;
    this.#now = opts.now ?? (() => performance.now());
  }

  get cold(): boolean {
    return this.#cold;
  }

  /** How the next read goes. */
  route(): ReadRoute {
    if (!this.#cold) return 'inline';
    if (this.#probe) return 'probe';
    return this.#now() - this.#missAt >= this.#retryMs ? 'inline' : 'pool';
  }

  /** A read found its whole range cached (inline, or by the probe). */
  hit(): void {
    if (!this.#cold) return;
    if (!this.#probe || ++this.#hitsInRow >= this.#warmAfter) {
      this.#cold = false;
      this.#hitsInRow = 0;
    }
  }

  /** A read found a page of its range not cached (an inline miss, or the probe). */
  miss(): void {
    this.#cold = true;
    this.#hitsInRow = 0;
    this.#missAt = this.#now();
  }

  /** The probe failed (no cachestat here): from now on, the retry interval instead. */
  probeUnavailable(): void {
    this.#probe = false;
  }
}
