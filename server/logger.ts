import { pino, type Logger } from 'pino';

export type { Logger };

/** pino JSON logs; anything that may hold a secret is redacted by path. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: {
      paths: ['token', '*.token', 'secret', '*.secret', 'apiSecret', 'authorization', '*.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}
