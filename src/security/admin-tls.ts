import { TandemError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { ensureEmbeddedTls } from './embedded-ca.js';
import { loadTls, type NodeTlsSettings, type TlsMaterial } from './tls.js';

/** The node file fields the admin API's security reads. */
export interface AdminTlsSettings extends NodeTlsSettings {
  readonly node: { readonly dataDir: string; readonly name: string };
  readonly cluster?: unknown;
}

/**
 * The admin API's TLS material, or undefined for plaintext. DESIGN.md Trust, in this order:
 * the node file's `tls:` (the node's own certificate, the cluster CA as trust root); else
 * `insecure: true` (plaintext, logged as a warning); else an embedded node creates its own CA and
 * certificates in <dataDir>/tls on the first start; a cluster node without either is refused.
 */
export async function adminTls(cfg: AdminTlsSettings, log: Logger): Promise<TlsMaterial | undefined> {
  if (cfg.tls) return loadTls(cfg.tls, cfg.node.dataDir);
  if (cfg.insecure) {
    log.warn(
      { insecure: true },
      'insecure: true: the admin API is plaintext and unauthenticated (loopback development only)',
    );
    return undefined;
  }
  if (cfg.cluster) {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      'tls: a cluster node needs tls: {ca, cert, key} (see docs/security.md), or insecure: true for plaintext on loopback',
    );
  }
  let made: Awaited<ReturnType<typeof ensureEmbeddedTls>>;
  try {
    made = await ensureEmbeddedTls(cfg.node.dataDir, cfg.node.name);
  } catch (err) {
    throw new TandemError(
      'TANDEM_ERR_CONFIG_INVALID',
      `admin API credentials in ${cfg.node.dataDir}: ${(err as Error).message}`,
    );
  }
  if (made.created.length > 0) {
    log.info(
      { dir: made.dir, created: made.created },
      "created this node's CA, its admin API certificate and an admin client certificate (tandemctl finds them in DATA_DIR/tls)",
    );
  }
  return loadTls(made.files, cfg.node.dataDir, 'admin tls');
}
