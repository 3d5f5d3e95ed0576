// Database errors as the rest of the server sees them: the SQLSTATE and the
// statement's first words, never the parameters (PGlite attaches them to its
// errors, and pino would log them: user names, chat text, metadata), and a
// client-facing code that says whether retrying can help.

import { AppError } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';

/** A statement PostgreSQL refused; carries no parameter values. */
export class QueryError extends Error {
  constructor(
    /** SQLSTATE, e.g. 22021 (bad byte sequence), 23505 (unique violation), 57P01 (admin shutdown). */
    readonly code: string,
    /** The statement's first words (`INSERT INTO rooms`), enough to find it in the code. */
    readonly statement: string,
    message: string,
    readonly constraint?: string,
  ) {
    super(message);
    this.name = 'QueryError';
  }

  /** Class 22 (data exception) or 23 (integrity constraint): the data was wrong, retrying cannot help. */
  get dataError(): boolean {
    return this.code.startsWith('22') || this.code.startsWith('23');
  }
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** The statement's first words, without literals or parameters. */
export function statementHead(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim().split(' ').slice(0, 4).join(' ').replace(/'.*$/, '').slice(0, 80);
}

/**
 * Rethrows a driver error from `sql` as a QueryError (when it carries a
 * SQLSTATE), so no caller can log its parameters. Other errors (a connection
 * refused, a closed pool) pass through: they carry no parameters.
 */
export function toQueryError(err: unknown, sql: string): unknown {
  if (!(err instanceof Error)) return err;
  const fields = err as Error & { code?: unknown; constraint?: unknown };
  if (typeof fields.code !== 'string' || !SQLSTATE.test(fields.code)) return err;
  const code = fields.code;
  const statement = statementHead(sql);
  // Data-class messages may quote the value (invalid input syntax for type uuid: "..."): keep only the SQLSTATE.
  const isData = code.startsWith('22') || code.startsWith('23');
  const message = isData ? `${statement} failed with SQLSTATE ${code}` : `${statement} failed: ${err.message.slice(0, 200)}`;
  return new QueryError(code, statement, message, typeof fields.constraint === 'string' ? fields.constraint : undefined);
}

/**
 * What a storage failure means for the client who caused the request:
 * an AppError stays itself; a unique violation is `conflict`; any other
 * data-class error is a bug of ours (`internal_error`: client input was
 * checked before, so retrying cannot help); everything else means the
 * database is unreachable or overloaded: `unavailable`, retry.
 * Logs the SQLSTATE and statement only.
 */
export function storageFailure(err: unknown, log: Logger, what: string): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof QueryError && err.dataError) {
    if (err.code === '23505') {
      log.warn({ sqlstate: err.code, statement: err.statement, constraint: err.constraint }, `${what}: unique violation`);
      return new AppError('conflict', 'that already exists');
    }
    log.error({ sqlstate: err.code, statement: err.statement, constraint: err.constraint }, `${what}: the database refused the data`);
    return new AppError('internal_error', 'internal error');
  }
  log.error({ err: describeError(err) }, what);
  return new AppError('unavailable', 'storage is unavailable; try again');
}

/** An error reduced to what is safe to log (no driver fields such as `params`). */
export function describeError(err: unknown): { type: string; message: string; code?: string; statement?: string } {
  if (err instanceof QueryError) return { type: err.name, message: err.message, code: err.code, statement: err.statement };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { type: err.name, message: err.message.slice(0, 200), ...(typeof code === 'string' ? { code } : {}) };
  }
  return { type: typeof err, message: String(err).slice(0, 200) };
}
