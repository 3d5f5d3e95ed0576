import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable } from './database.js';
import { toQueryError } from './queryError.js';

/** Embedded Postgres (WASM) in DATA_DIR: the zero-config default. */
export async function openPglite(dir: string | null): Promise<Database> {
  if (dir) mkdirSync(dir, { recursive: true });
  const db = dir ? await PGlite.create(dir) : await PGlite.create();
  const wrap = (q: Pick<PGlite, 'query'>): Queryable => ({
    async query<R>(sql: string, params: unknown[] = []) {
      try {
        return (await q.query<R>(sql, params)).rows;
      } catch (err) {
        throw toQueryError(err, sql); // PGlite puts the parameters on its errors
      }
    },
  });
  return {
    kind: 'pglite',
    ...wrap(db),
    async exec(sql) {
      await db.exec(sql).catch((err: unknown) => {
        throw toQueryError(err, sql);
      });
    },
    transaction(fn) {
      return db.transaction((tx) => fn(wrap(tx)));
    },
    async close() {
      await db.close();
    },
  };
}
