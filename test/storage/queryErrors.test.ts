// What a database error means for a client, and what reaches the log: data
// errors (SQLSTATE classes 22 and 23) are never `unavailable` ("retry" cannot
// help), a unique violation is `conflict`, a database that is down is
// `unavailable`; logs carry the SQLSTATE and statement, never the values.
// Against embedded PGlite and a real PostgreSQL server.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { pino } from 'pino';
import type { Database } from '../../server/storage/database.js';
import { openPglite } from '../../server/storage/pgliteDatabase.js';
import { openPostgres } from '../../server/storage/postgresDatabase.js';
import { QueryError, storageFailure } from '../../server/storage/queryError.js';
import { applySchema } from '../../server/storage/schema.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

const SECRET = 'secret-value-7f3a';

function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

async function failure(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (err) {
    return err;
  }
  throw new Error('the statement did not fail');
}

interface Ctx {
  pg: PostgresServer | null;
  db: Database;
}

for (const kind of ['pglite', 'postgres'] as const) {
  const test = suite<Ctx>(`query errors (${kind})`, { pg: null } as Ctx);
  test.before(async (ctx) => {
    if (kind === 'postgres') {
      ctx.pg = await startPostgres();
      ctx.db = await openPostgres(ctx.pg.url);
    } else {
      ctx.db = await openPglite(null);
    }
    await applySchema(ctx.db);
  });
  test.after(async (ctx) => {
    await ctx.db.close().catch(() => {});
    await ctx.pg?.stop();
  });

  test('NUL in a text parameter is a data error (class 22) carrying no parameter values: internal_error, not unavailable', async ({
    db,
  }) => {
    const err = await failure(
      db.query('INSERT INTO room_users (room, user_id, role) VALUES ($1, $2, $3)', [`${SECRET}\u0000`, 'u', 'host']),
    );
    assert.instance(err, QueryError);
    const q = err as QueryError;
    assert.ok(q.code.startsWith('22'), q.code);
    assert.ok(q.dataError);
    assert.is(q.statement, 'INSERT INTO room_users (room,');
    assert.not.match(inspect(err, { depth: 5 }), SECRET, 'no parameter on the error');
    assert.not.ok('params' in (err as object));
    const { log, lines } = capturingLogger();
    const app = storageFailure(err, log, 'test write');
    assert.is(app.code, 'internal_error');
    assert.is(lines.length, 1);
    assert.not.match(lines[0], SECRET, 'no parameter in the log');
    assert.match(lines[0], q.code);
    assert.match(lines[0], 'INSERT INTO room_users');
  });

  test('a value quoted in the database message stays out of the error and the log', async ({ db }) => {
    const err = await failure(db.query('SELECT id FROM calls WHERE id = $1', [SECRET]));
    assert.instance(err, QueryError);
    assert.is((err as QueryError).code, '22P02');
    assert.not.match(inspect(err, { depth: 5 }), SECRET);
    const { log, lines } = capturingLogger();
    assert.is(storageFailure(err, log, 'test read').code, 'internal_error');
    assert.not.match(lines.join(''), SECRET);
  });

  test('a unique violation is conflict', async ({ db }) => {
    const insert = 'INSERT INTO rooms (name) VALUES ($1)';
    await db.query(insert, [SECRET]);
    const err = await failure(db.query(insert, [SECRET]));
    assert.instance(err, QueryError);
    assert.is((err as QueryError).code, '23505');
    const { log, lines } = capturingLogger();
    const app = storageFailure(err, log, 'test insert');
    assert.is(app.code, 'conflict');
    assert.not.match(lines.join(''), SECRET);
  });

  test('errors inside a transaction are QueryErrors too, and roll back', async ({ db }) => {
    const err = await failure(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO rooms (name) VALUES ($1)', ['tx-room']);
        await tx.query('INSERT INTO rooms (name, metadata) VALUES ($1, $2)', ['tx-room-2', JSON.stringify({ note: `${SECRET}\u0000` })]);
      }),
    );
    assert.instance(err, QueryError);
    assert.ok((err as QueryError).dataError, (err as QueryError).code); // jsonb refuses \u0000
    assert.not.match(inspect(err, { depth: 5 }), SECRET);
    assert.is((await db.query('SELECT 1 FROM rooms WHERE name = $1', ['tx-room'])).length, 0);
  });

  test('a database that is gone is unavailable (retry), logged without values', async (ctx) => {
    await ctx.db.close();
    if (ctx.pg) await ctx.pg.stop();
    const err = await failure(ctx.db.query('SELECT * FROM rooms WHERE name = $1', [SECRET]));
    const { log, lines } = capturingLogger();
    assert.is(storageFailure(err, log, 'test down').code, 'unavailable');
    assert.not.match(lines.join(''), SECRET);
    ctx.pg = null;
  });

  test.run();
}
