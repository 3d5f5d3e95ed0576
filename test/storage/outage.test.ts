// PostgreSQL going away: joins fail with `unavailable` and change nothing,
// calls in progress keep relaying, /health says 503, the process survives.
// A leave (or a disconnect) during the outage cannot be refused: its row and
// its participant_left event are written once the database is back; so is
// the track_published event of a track published meanwhile.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { eventually } from '../support/net.js';
import { startPostgres } from '../support/postgres.js';
import { startServer } from '../support/server.js';

test('database outage', async () => {
  const pg = await startPostgres();
  const srv = await startServer({ databaseUrl: pg.url });
  try {
    const a = await srv.joined('alice', 'o-room');
    const b = await srv.joined('bob', 'o-room');
    await pg.stop();

    const c = await srv.connect();
    await c.request('auth', { token: await srv.mint({ userId: 'carol' }) });
    const err = await c.request('join', { room: 'o-room' }).catch((e) => e);
    assert.is(err.code, 'unavailable');
    assert.is(srv.app.rooms.getRoom('o-room')!.participants.size, 2, 'nothing changed');
    const fresh = await c.request('join', { room: 'o-new' }).catch((e) => e);
    assert.is(fresh.code, 'unavailable');
    assert.is(srv.app.rooms.getRoom('o-new'), undefined, 'no half-open room left behind');
    assert.is(b.client.unread('peer-joined').length, 0);

    await a.client.request('offer', { to: b.id, sdp: 'still relaying' });
    assert.is((await b.client.next('offer')).sdp, 'still relaying');

    const health = await srv.api('GET', '/health', undefined, null);
    assert.equal([health.status, health.body.database.status], [503, 'unreachable']);
    const rest = await srv.api('GET', '/calls/3f2b2b2e-0000-4000-8000-000000000000');
    assert.equal([rest.status, rest.body.error.code], [503, 'unavailable']);
  } finally {
    await srv.stop();
    await pg.stop().catch(() => {});
  }
});

test('a leave acknowledged during a restart of PostgreSQL is stored when it is back, with its webhook event', async () => {
  const db = await startPostgres();
  // The outbox stores events only for configured receivers; nothing listens there (delivery is not the point).
  const srv = await startServer({
    databaseUrl: db.url,
    env: { WEBHOOK_URLS: 'http://127.0.0.1:9/hooks', WEBHOOK_SECRET: 'outage-test-secret' },
  });
  const sql = async (text: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(text, params)).rows;
    } finally {
      await c.end();
    }
  };
  try {
    await srv.joined('alice', 'r-room');
    const bob = await srv.joined('bob', 'r-room');
    const carol = await srv.joined('carol', 'r-room');
    await db.shutdown();
    await bob.client.request('leave', {}); // acknowledged
    carol.client.ws.terminate(); // a disconnect is a leave too
    await eventually(() => srv.app.rooms.getRoom('r-room')!.participants.size === 1, 5000, 'carol gone');
    await db.start();
    await eventually(
      async () => (await sql('SELECT 1 FROM participants WHERE id = ANY($1) AND left_at IS NOT NULL', [[bob.id, carol.id]])).length === 2,
      15_000,
      'both leaves stored',
    );
    const rows = await sql('SELECT id, leave_reason FROM participants WHERE id = ANY($1) ORDER BY user_id', [[bob.id, carol.id]]);
    assert.equal(
      rows.map((r) => r.leave_reason),
      ['left', 'disconnected'],
    );
    await eventually(
      async () =>
        (
          await sql(
            "SELECT 1 FROM webhook_outbox WHERE event = 'participant_left' AND body::jsonb -> 'participant' ->> 'participant_id' = ANY($1)",
            [[bob.id, carol.id]],
          )
        ).length === 2,
      15_000,
      'both participant_left events stored',
    );
  } finally {
    await srv.stop();
    await db.stop().catch(() => {});
  }
});

test('a track published during a restart of PostgreSQL gets its track_published event when it is back', async () => {
  const db = await startPostgres();
  const srv = await startServer({
    databaseUrl: db.url,
    sfuWorkers: 1,
    env: { WEBHOOK_URLS: 'http://127.0.0.1:9/hooks', WEBHOOK_SECRET: 'outage-test-secret' },
  });
  const bot = await MediaBot.join(srv.url, await srv.mint({ userId: 'dave' }), 't-room');
  try {
    await db.shutdown();
    const producer = await bot.publishAudio(); // acknowledged: the SFU does not need the database
    await db.start();
    await eventually(
      async () => {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          const rows = await c.query(
            "SELECT 1 FROM webhook_outbox WHERE event = 'track_published' AND body::jsonb -> 'track' ->> 'producer_id' = $1",
            [producer.id],
          );
          return rows.rows.length === 1;
        } finally {
          await c.end();
        }
      },
      15_000,
      'track_published stored',
    );
  } finally {
    await bot.close().catch(() => {});
    await srv.stop();
    await db.stop().catch(() => {});
  }
});

test.run();
