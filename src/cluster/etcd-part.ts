import type { Logger } from '../util/logger.js';
import type { EtcdKv } from './etcd-kv.js';
import type { KeyLayout } from './keys.js';

/** What every part of the etcd coordinator shares: the one KV layer, the key layout, who we are. */
export interface EtcdPartContext {
  readonly kv: EtcdKv;
  readonly keys: KeyLayout;
  readonly nodeName: string;
  readonly logger: Logger;
}
