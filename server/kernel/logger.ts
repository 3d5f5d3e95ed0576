import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** `scheme://user:password@` in any URL (Redis, PostgreSQL, S3, webhook URLs). */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi;
/** Query parameters that carry credentials (`?token=`, signed download and HLS URLs). */
const SECRET_QUERY = /([?&](?:token|access_token|signature|secret|password|api_secret|key)=)[^&\s#"']*/gi;

/** `text` with credentials in URLs and secret query parameters replaced by [redacted]. */
export function scrubSecrets(text: string): string {
  if (!text.includes('://') && !text.includes('=')) return text;
  return text.replace(URL_CREDENTIALS, '$1[redacted]@').replace(SECRET_QUERY, '$1[redacted]');
}

/**
 * Errors as pino logs them, minus what may hold data: PGlite attaches the
 * statement's `params` (and options) to its errors, and PostgreSQL's `detail`
 * quotes row values ("Key (user_id)=(...) already exists"). The statement
 * text stays (it has placeholders, not values); message and stack are scrubbed.
 */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? scrubSecrets(err) : err;
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  delete out['params'];
  delete out['queryOptions'];
  if (out['detail'] !== undefined) out['detail'] = '[redacted]';
  for (const key of ['message', 'stack']) {
    if (typeof out[key] === 'string') out[key] = scrubSecrets(out[key]);
  }
  return out;
}

/** pino JSON logs; anything that may hold a secret is redacted by path, by error serializer, or by scrubbing strings. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    redact: {
      paths: [
        'token',
        '*.token',
        'secret',
        '*.secret',
        'apiSecret',
        'authorization',
        '*.authorization',
        'headers.authorization',
        'params',
        '*.params',
      ],
      censor: '[redacted]',
    },
    serializers: { err: serializeError, error: serializeError },
    formatters: {
      // Top-level strings (url, path, error...): no URL credentials or secret query parameters.
      log(object: Record<string, unknown>) {
        for (const [key, value] of Object.entries(object)) {
          if (typeof value === 'string') object[key] = scrubSecrets(value);
        }
        return object;
      },
    },
    hooks: {
      logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: unknown[]) => void) {
        method.apply(
          this,
          args.map((a) => (typeof a === 'string' ? scrubSecrets(a) : a)),
        );
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
