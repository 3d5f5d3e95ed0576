// REST: health, metrics, token minting, calls.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SignalingClient } from '../../clients/node/signalingClient.js';
import { basicAuth, startServer, type TestServer } from '../support/server.js';

const test = suite<{ srv: TestServer }>('rest api', {} as { srv: TestServer });
test.before(async (ctx) => {
  ctx.srv = await startServer();
});
test.after(async (ctx) => ctx.srv.stop());

test('GET /health reports the process and the database', async ({ srv }) => {
  const { status, body } = await srv.api('GET', '/health', undefined, null);
  assert.is(status, 200);
  assert.is(body.status, 'ok');
  assert.equal(body.database, { kind: 'pglite', status: 'ok' });
  assert.is(body.node_id, 'test-node');
});

test('GET /metrics serves Prometheus text with hub gauges', async ({ srv }) => {
  const a = await srv.joined('alice', 'm-room');
  const { status, body } = await srv.api('GET', '/metrics', undefined, null);
  assert.is(status, 200);
  assert.match(body, /switchboard_ws_connections 1/);
  assert.match(body, /switchboard_rooms 1/);
  assert.match(body, /switchboard_ws_messages_received_total\{type="join"\} 1/);
  assert.match(body, /process_cpu_seconds_total/);
  await a.client.close();
});

test('API routes need the API key; wrong credentials are unauthorized', async ({ srv }) => {
  assert.is((await srv.api('POST', '/auth/token', { user_id: 'x' }, null)).status, 401);
  const wrong = await srv.api('POST', '/auth/token', { user_id: 'x' }, basicAuth('APItestkey', 'wrong-secret-0123456789'));
  assert.is(wrong.status, 401);
  assert.is(wrong.body.error.code, 'unauthorized');
  assert.is((await srv.api('GET', '/calls/00000000-0000-0000-0000-000000000000', undefined, 'Bearer x')).status, 401);
});

test('POST /auth/token mints a token the WebSocket accepts, with the requested claims', async ({ srv }) => {
  const { status, body } = await srv.api('POST', '/auth/token', {
    user_id: 'carol',
    name: 'Carol',
    room: 'api-room',
    role: 'moderator',
    ttl: 120,
  });
  assert.is(status, 201);
  assert.ok(body.expires_at - Date.now() / 1000 <= 121);
  const client = await SignalingClient.connect(srv.url);
  const identity = await client.request('auth', { token: body.token });
  assert.equal({ ...identity, expires_at: 0 }, { user_id: 'carol', name: 'Carol', role: 'moderator', room: 'api-room', expires_at: 0 });
  await client.close();
});

test('POST /auth/token validates its body', async ({ srv }) => {
  const cases: Array<[unknown, string]> = [
    [{}, 'user_id'],
    [{ user_id: 'x', role: 'admin' }, 'role'],
    [{ user_id: 'x', ttl: 5 }, 'ttl'],
    [{ user_id: 'x', ttl: 10 * 86400 }, 'ttl'],
    [{ user_id: 'x', room: 'no spaces' }, 'room'],
  ];
  for (const [body, field] of cases) {
    const res = await srv.api('POST', '/auth/token', body);
    assert.is(res.status, 400, JSON.stringify(body));
    assert.is(res.body.error.code, 'invalid_payload');
    assert.match(res.body.error.message, field);
  }
  const bad = await srv.api('POST', '/auth/token', '{oops');
  assert.equal([bad.status, bad.body.error.code], [400, 'bad_json']);
});

test('POST /calls creates a pending call that the first join uses; a second create conflicts', async ({ srv }) => {
  const created = await srv.api('POST', '/calls', { room: 'planned', metadata: { topic: 'standup' } });
  assert.is(created.status, 201);
  assert.equal([created.body.room, created.body.status, created.body.metadata], ['planned', 'pending', { topic: 'standup' }]);
  const again = await srv.api('POST', '/calls', { room: 'planned' });
  assert.equal([again.status, again.body.error.code], [409, 'conflict']);

  const a = await srv.joined('alice', 'planned');
  assert.is(srv.app.rooms.getRoom('planned')!.callId, created.body.call_id);
  const got = await srv.api('GET', `/calls/${created.body.call_id}`);
  assert.is(got.status, 200);
  assert.is(got.body.participants.length, 1);
  assert.is(got.body.participants[0].user_id, 'alice');
  assert.is(got.body.recording, false); // nobody recorded it
  await a.client.close();

  const generated = await srv.api('POST', '/calls', {});
  assert.match(generated.body.room, /^room-[0-9a-f]{12}$/);
});

test('GET /calls/:id and the rooms API show a participant still in the call the same way, counted up to now', async ({ srv }) => {
  const a = await srv.joined('alice', 'same-json');
  // In the call for half a minute already: billing counts those seconds.
  await srv.app.db.query(`UPDATE participants SET joined_at = now() - interval '30 seconds' WHERE id = $1`, [a.id]);
  const callId = srv.app.rooms.getRoom('same-json')!.callId;
  const call = await srv.api('GET', `/calls/${callId}`);
  const rooms = await srv.api('GET', '/api/v1/rooms/same-json/participants');
  assert.equal([call.status, rooms.status], [200, 200]);
  const fromCall = call.body.participants.find((p: { participant_id: string }) => p.participant_id === a.id);
  const fromRooms = rooms.body.history.find((p: { participant_id: string }) => p.participant_id === a.id);
  assert.is(typeof fromCall.duration_seconds, 'number');
  assert.ok(fromCall.duration_seconds >= 30 && fromCall.duration_seconds < 60, String(fromCall.duration_seconds));
  assert.equal([fromCall.connected, fromCall.left_at], [true, null]);
  // The same fields and values (the two answers were made a moment apart: the duration may differ by a second).
  assert.ok(Math.abs(fromCall.duration_seconds - fromRooms.duration_seconds) <= 1);
  assert.equal({ ...fromCall, duration_seconds: 0 }, { ...fromRooms, duration_seconds: 0 });
  await a.client.close();
});

test('GET /calls/:id: unknown ids are 404; unknown routes 404; wrong method 405', async ({ srv }) => {
  assert.is((await srv.api('GET', '/calls/3f2b2b2e-0000-4000-8000-000000000000')).status, 404);
  assert.is((await srv.api('GET', '/calls/not-a-uuid')).status, 404);
  assert.is((await srv.api('GET', '/nope')).status, 404);
  assert.is((await srv.api('DELETE', '/health')).status, 405);
});

test.run();
