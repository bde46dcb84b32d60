#!/usr/bin/env -S node --initial-heap-size=128
import './preload.js';
import { Command } from 'commander';
import { embeddedDefaults, loadNodeConfig, type NodeConfig } from '../src/admin/config-schema.js';
import { Daemon } from '../src/daemon.js';
import { TandemError } from '../src/util/errors.js';
import { createLogger } from '../src/util/logger.js';

const program = new Command()
  .name('tandemd')
  .description(
    'Tandem iSCSI target node. Without --config: embedded mode, target iqn.2026-11.org.tandem:demo\n' +
      'on 127.0.0.1:3260 with LUN 0 on a sparse 1 GiB file under ./data (created on first start).',
  )
  .option('-c, --config <file>', 'node configuration (YAML)')
  .option('-l, --listen <host:port...>', 'portal address(es), overriding the configuration')
  .option('-d, --data-dir <dir>', 'data directory, overriding the configuration')
  .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics')
  .option('--admin <host:port|off>', 'admin API for tandemctl (default 127.0.0.1:7070; off: none)')
  .option('--log-level <level>', 'trace, debug, info, warn, error', process.env.TANDEM_LOG_LEVEL ?? 'info')
  .showHelpAfterError();

async function main(): Promise<void> {
  program.parse();
  const opts = program.opts<{
    config?: string;
    listen?: string[];
    dataDir?: string;
    metrics?: string;
    admin?: string;
    logLevel: string;
  }>();
  const log = createLogger({ level: opts.logLevel });
  let config: NodeConfig;
  try {
    config = opts.config ? loadNodeConfig(opts.config) : embeddedDefaults();
  } catch (err) {
    process.stderr.write(`tandemd: ${(err as Error).message}\n`);
    process.exit(2);
  }
  if (opts.listen) config.portals = opts.listen;
  if (opts.dataDir) config.node.dataDir = opts.dataDir;
  if (opts.metrics) {
    if (!/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/.test(opts.metrics)) {
      process.stderr.write(`tandemd: --metrics: expected HOST:PORT, e.g. 127.0.0.1:9464\n`);
      process.exit(2);
    }
    config.metrics = { listen: opts.metrics };
  }

  if (opts.admin) {
    if (opts.admin !== 'off' && !/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/.test(opts.admin)) {
      process.stderr.write(`tandemd: --admin: expected HOST:PORT or off, e.g. 127.0.0.1:7070\n`);
      process.exit(2);
    }
    config.admin = { listen: opts.admin };
  }

  let daemon: Daemon;
  try {
    daemon = await Daemon.start(config, log);
  } catch (err) {
    const msg = err instanceof TandemError ? `${err.message} (${err.code})` : (err as Error).message;
    log.fatal({ err }, 'tandemd could not start');
    process.stderr.write(`tandemd: cannot start: ${msg}\n`);
    await new Promise((r) => setTimeout(r, 50));
    process.exit(1);
  }
  log.info(
    {
      event: 'ready',
      node: config.node.name,
      mode: daemon.mode,
      ...(daemon.grpcAddress ? { grpc: daemon.grpcAddress } : {}),
      ...(daemon.metricsAddress ? { metrics: daemon.metricsAddress } : {}),
      ...(daemon.adminAddress ? { admin: daemon.adminAddress } : {}),
      portals: daemon.portals.map((p) => `${p.host}:${p.port}`),
      targets: [...daemon.targets.keys()],
    },
    'tandemd ready',
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining in-flight commands');
    daemon.stop().then(
      () => {
        log.info('stopped');
        log.flush();
        setTimeout(() => process.exit(0), 50).unref();
      },
      (err) => {
        log.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
