import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: human-readable (pino-pretty) on a terminal, JSON lines otherwise.
 * TANDEM_LOG_LEVEL overrides the level.
 */
export function createLogger(opts: { level?: string; pretty?: boolean } = {}): Logger {
  const level = opts.level ?? process.env.TANDEM_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino({ level });
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
