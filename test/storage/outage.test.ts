// PostgreSQL going away: joins fail with `unavailable` and change nothing,
// calls in progress keep relaying, /health says 503, the process survives.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
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

test.run();
