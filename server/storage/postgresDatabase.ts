import pg from 'pg';
import type { Database } from './database.js';
import { toQueryError } from './queryError.js';

// Return timestamps as Date and bigint counts as numbers, like PGlite does.
pg.types.setTypeParser(20, (value) => Number(value));

/** A real PostgreSQL server (DATABASE_URL). */
export async function openPostgres(url: string, opts: { max?: number } = {}): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  await pool.query('SELECT 1'); // fail fast on a wrong URL or a server that is down
  return {
    kind: 'postgres',
    async query<R>(sql: string, params: unknown[] = []) {
      try {
        return (await pool.query(sql, params)).rows as R[];
      } catch (err) {
        throw toQueryError(err, sql); // `detail` may quote the values
      }
    },
    async exec(sql) {
      await pool.query(sql).catch((err: unknown) => {
        throw toQueryError(err, sql);
      });
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          async query<R>(sql: string, params: unknown[] = []) {
            try {
              return (await client.query(sql, params)).rows as R[];
            } catch (err) {
              throw toQueryError(err, sql);
            }
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {}); // the transaction's own error is what the caller gets; a dead connection rolls back anyway
        throw err;
      } finally {
        client.release();
      }
    },
    async close() {
      await pool.end();
    },
  };
}
