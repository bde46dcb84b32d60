import type { Etcd3, IEvent, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from '../util/logger.js';
import type { Subscription } from './coordinator.js';
import { sleep, withRetry } from './etcd-retry.js';
import { revision } from './records.js';

export interface KeyValue {
  readonly key: string;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
}

export interface KeyEvent extends KeyValue {
  readonly type: 'put' | 'delete';
}

/** A key range: one key (no `prefix`) or every key starting with it. */
export interface KeyRange {
  readonly key: string;
  readonly prefix?: boolean;
}

export interface RangeWatchHandlers {
  /** Everything in the range at `revision`: first, and again after a gap the watch cannot bridge. */
  snapshot(kvs: KeyValue[], revision: number): void;
  /** One change, in revision order. */
  change(event: KeyEvent, revision: number): void;
}

/** The smallest key greater than every key with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix, 'utf8');
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export function rangeRequest(range: KeyRange): { key: Buffer; range_end?: Buffer } {
  const key = Buffer.from(range.key, 'utf8');
  return range.prefix ? { key, range_end: prefixEnd(range.key) } : { key };
}

export function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value,
    createRevision: revision(kv.create_revision),
    modRevision: revision(kv.mod_revision),
  };
}

function toKeyEvent(ev: IEvent): KeyEvent {
  return { type: ev.type === 'Delete' ? 'delete' : 'put', ...toKeyValue(ev.kv) };
}

function watchBuilder(client: Etcd3, range: KeyRange, fromRevision: number): Watcher {
  const b = client.watch();
  if (range.prefix) b.prefix(range.key);
  else b.key(range.key);
  return b.startRevision(String(fromRevision)).watcher();
}

/**
 * List-then-watch with no gap: reads the range, hands it over as a snapshot, then watches from
 * the next revision. etcd3 resumes a broken watch stream from the last revision it saw; if etcd
 * cancels the watch (compaction), this re-lists and hands over a fresh snapshot.
 */
export async function watchRange(
  client: Etcd3,
  range: KeyRange,
  handlers: RangeWatchHandlers,
  logger: Logger,
): Promise<Subscription> {
  let closed = false;
  let watcher: Watcher | undefined;

  const safely = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      logger.error({ err, key: range.key }, `${what} handler threw`);
    }
  };

  const sync = async () => {
    const res = await withRetry(`list ${range.key}`, () => client.kv.range(rangeRequest(range)), { logger });
    if (closed) return;
    const rev = revision(res.header.revision);
    safely('snapshot', () => handlers.snapshot(res.kvs.map(toKeyValue), rev));
    const w = watchBuilder(client, range, rev + 1);
    watcher = w;
    w.on('data', (data) => {
      if (w !== watcher || closed) return;
      for (const ev of data.events) {
        const event = toKeyEvent(ev);
        safely('change', () => handlers.change(event, event.modRevision));
      }
    });
    w.on('error', (err) => {
      if (w !== watcher || closed) return;
      logger.warn({ err, key: range.key }, 'watch cancelled by etcd; re-listing');
      watcher = undefined;
      w.cancel().catch(() => undefined);
      void resync();
    });
  };

  const resync = () =>
    withRetry('re-list', sync, {
      deadlineMs: Number.POSITIVE_INFINITY,
      retryable: () => !closed,
      onRetry: (err, _attempt, delayMs) =>
        logger.warn({ err, key: range.key, delayMs }, 're-list failed; retrying'),
    }).catch(() => undefined); // only once closed

  await sync();
  return {
    close: async () => {
      closed = true;
      const w = watcher;
      watcher = undefined;
      // Do not wait on an unreachable etcd for the cancel to be acknowledged.
      await Promise.race([w?.cancel().catch(() => undefined), sleep(500)]);
    },
  };
}

/**
 * Resolves 'matched' at the first event on `range` after `fromRevision` - 1 that `match` accepts,
 * 'aborted' when `signal` aborts, 'error' if etcd cancels the watch (the caller re-reads).
 */
export function waitForEvent(
  client: Etcd3,
  range: KeyRange,
  fromRevision: number,
  match: (event: KeyEvent) => boolean,
  signal: AbortSignal,
): Promise<'matched' | 'aborted' | 'error'> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve('aborted');
      return;
    }
    const w = watchBuilder(client, range, fromRevision);
    let done = false;
    const finish = (outcome: 'matched' | 'aborted' | 'error') => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      w.cancel().catch(() => undefined);
      resolve(outcome);
    };
    const onAbort = () => finish('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    w.on('data', (data) => {
      for (const ev of data.events) if (match(toKeyEvent(ev))) return finish('matched');
    });
    w.on('error', () => finish('error'));
  });
}
