// A stream a crash left open is over at the next start: failed, reason
// server-restart, with its live_stream_finished webhook in the outbox.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { startServer } from '../support/server.js';

test('restart: streams left preparing/live are closed as failed (server-restart) and reported', async () => {
  const env = { WEBHOOK_URLS: 'http://127.0.0.1:9/hook', WEBHOOK_SECRET: 'webhook-secret-0123456789', WEBHOOK_POLL_INTERVAL_MS: '60000' };
  const first = await startServer({ env });
  const id = randomUUID();
  // What a crashed node leaves behind: a room and a stream row still `live`.
  await first.app.db.query(`INSERT INTO rooms (name) VALUES ('crashed')`);
  await first.app.db.query(
    `INSERT INTO live_streams (id, room, node_id, status, layout, live_at, viewers_peak, viewers_total) VALUES ($1, 'crashed', 'test-node', 'live', 'speaker', now(), 7, 9)`,
    [id],
  );
  const dataDir = first.dataDir;
  await first.app.close();

  const second = await startServer({ env, dataDir });
  try {
    const rows = await second.app.db.query<{ status: string; end_reason: string; ended_at: Date | null }>(
      `SELECT status, end_reason, ended_at FROM live_streams WHERE id = $1`,
      [id],
    );
    assert.is(rows[0].status, 'failed');
    assert.is(rows[0].end_reason, 'server-restart');
    assert.ok(rows[0].ended_at);
    const events = await second.app.db.query<{ body: string }>(`SELECT body FROM webhook_outbox WHERE event = 'live_stream_finished'`);
    assert.is(events.length, 1);
    const body = JSON.parse(events[0].body);
    assert.is(body.stream.stream_id, id);
    assert.is(body.stream.status, 'failed');
    assert.equal(body.stream.viewers, { current: 0, peak: 7, total: 9 });
    const { body: latest } = await second.api('GET', '/api/v1/rooms/crashed/live');
    assert.is(latest.stream.end_reason, 'server-restart');
  } finally {
    await second.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
