// POST /dev/token: tokens for anyone, only on a development server (its
// generated keys, or DEV_TOKENS=1): bound to one room, with the asked role,
// a user id made from the name; validated; rate limited; 404 otherwise.
// GET /dev/token says on every server whether POST is there.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SignalingClient } from '../../clients/node/signalingClient.js';
import { ConfigError, loadConfig } from '../../server/kernel/config.js';
import { startServer } from '../support/server.js';

interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

test('with the generated dev keys: a token for that room and role, the user id from the name', async () => {
  const srv = await startServer({ devKeys: true });
  const clients: SignalingClient[] = [];
  try {
    const asked = await srv.api('GET', '/dev/token', undefined, null);
    assert.is(asked.status, 200);
    assert.equal(asked.body, { enabled: true });
    const minted = await srv.api('POST', '/dev/token', { name: 'Ann Lee', room: 'dev-room', role: 'moderator' }, null);
    assert.is(minted.status, 201);
    assert.equal(Object.keys(minted.body), ['token']);
    const ws = await SignalingClient.connect(srv.url);
    clients.push(ws);
    const identity = await ws.request('auth', { token: minted.body.token });
    assert.is(identity.name, 'Ann Lee');
    assert.is(identity.role, 'moderator');
    assert.is(identity.room, 'dev-room');
    assert.match(identity.user_id, /^ann-lee-[0-9a-f]{6}$/);
    // The server's default token TTL (TOKEN_TTL_SECONDS, 6 h).
    const ttl = identity.expires_at - Date.now() / 1000;
    assert.ok(ttl > 6 * 3600 - 60 && ttl <= 6 * 3600 + 1, `ttl ${ttl}`);
    // Another room: refused (and the connection closed, 4001); its own room: joined with that role.
    const other = await ws.request('join', { room: 'another-room' }).then(
      () => null,
      (err: { code?: string }) => err,
    );
    assert.is(other?.code, 'unauthorized');
    assert.is((await ws.closed).code, 4001);
    const ws1 = await SignalingClient.connect(srv.url);
    clients.push(ws1);
    await ws1.request('auth', { token: minted.body.token });
    const joined = await ws1.request('join', { room: 'dev-room' });
    const me = joined.room_state.participants.find((p) => p.participant_id === joined.participant_id);
    assert.is(me?.role, 'moderator');
    assert.is(me?.display_name, 'Ann Lee');

    // Two people called Ann get different user ids; every role may be asked for.
    const again = await srv.api('POST', '/dev/token', { name: 'Ann Lee', room: 'dev-room', role: 'viewer' }, null);
    const ws2 = await SignalingClient.connect(srv.url);
    clients.push(ws2);
    const second = await ws2.request('auth', { token: again.body.token });
    assert.is(second.role, 'viewer');
    assert.is.not(second.user_id, identity.user_id);
    for (const role of ['host', 'speaker']) {
      assert.is((await srv.api('POST', '/dev/token', { name: 'Bo', room: 'dev-room', role }, null)).status, 201, role);
    }
    // A name with no letters or digits still makes a user id.
    const odd = await srv.api('POST', '/dev/token', { name: '  ☺ ', room: 'dev-room', role: 'speaker' }, null);
    assert.is(odd.status, 201);
  } finally {
    for (const c of clients) await c.close();
    await srv.stop();
  }
});

test('bad bodies are 400 invalid_payload naming the field', async () => {
  const srv = await startServer({ devKeys: true });
  try {
    const cases: Array<[unknown, string]> = [
      [{}, 'name'],
      [{ room: 'r', role: 'speaker' }, 'name'],
      [{ name: '', room: 'r', role: 'speaker' }, 'name'],
      [{ name: '   ', room: 'r', role: 'speaker' }, 'name'],
      [{ name: 'x'.repeat(65), room: 'r', role: 'speaker' }, 'name'],
      [{ name: 'a\u0000b', room: 'r', role: 'speaker' }, 'name'],
      [{ name: 7, room: 'r', role: 'speaker' }, 'name'],
      [{ name: 'Ann', role: 'speaker' }, 'room'],
      [{ name: 'Ann', room: 'has space', role: 'speaker' }, 'room'],
      [{ name: 'Ann', room: 'r'.repeat(129), role: 'speaker' }, 'room'],
      [{ name: 'Ann', room: 'r' }, 'role'],
      [{ name: 'Ann', room: 'r', role: 'admin' }, 'role'],
    ];
    for (const [body, field] of cases) {
      const res = await srv.api('POST', '/dev/token', body, null);
      assert.is(res.status, 400, JSON.stringify(body));
      assert.is((res.body as ErrorBody).error.code, 'invalid_payload', JSON.stringify(body));
      assert.is((res.body as ErrorBody).error.field, field, JSON.stringify(body));
    }
    const notJson = await srv.api('POST', '/dev/token', '{', null);
    assert.is(notJson.status, 400);
  } finally {
    await srv.stop();
  }
});

test('rate limited per address like every REST write', async () => {
  const srv = await startServer({ devKeys: true, env: { REST_RATE_LIMIT_PER_SECOND: '1', REST_RATE_LIMIT_BURST: '2' } });
  try {
    const body = { name: 'Ann', room: 'r', role: 'speaker' };
    assert.is((await srv.api('POST', '/dev/token', body, null)).status, 201);
    assert.is((await srv.api('POST', '/dev/token', body, null)).status, 201);
    const limited = await srv.api('POST', '/dev/token', body, null);
    assert.is(limited.status, 429);
    assert.is((limited.body as ErrorBody).error.code, 'rate_limited');
  } finally {
    await srv.stop();
  }
});

test('with configured keys the route does not exist (404); DEV_TOKENS=1 turns it on', async () => {
  const body = { name: 'Ann', room: 'r1', role: 'speaker' };
  const off = await startServer();
  try {
    const asked = await off.api('GET', '/dev/token', undefined, null);
    assert.is(asked.status, 200);
    assert.equal(asked.body, { enabled: false });
    const res = await off.api('POST', '/dev/token', body, null);
    assert.is(res.status, 404);
    assert.is((res.body as ErrorBody).error.code, 'not_found');
    assert.is((await off.api('POST', '/dev/token', {}, null)).status, 404); // no hint through validation either
  } finally {
    await off.stop();
  }
  const on = await startServer({ env: { DEV_TOKENS: '1' } });
  try {
    assert.equal((await on.api('GET', '/dev/token', undefined, null)).body, { enabled: true });
    const res = await on.api('POST', '/dev/token', body, null);
    assert.is(res.status, 201);
    const ws = await SignalingClient.connect(on.url);
    const identity = await ws.request('auth', { token: res.body.token });
    assert.is(identity.room, 'r1');
    await ws.close();
  } finally {
    await on.stop();
  }
});

test('DEV_TOKENS=1 without a private key: 501 not_configured, like /auth/token', async () => {
  assert.throws(
    () => loadConfig({ DEV_TOKENS: 'maybe' }),
    (err: Error) => err instanceof ConfigError && /DEV_TOKENS/.test(err.message),
  );
  const srv = await startServer({ env: { DEV_TOKENS: '1', JWT_PRIVATE_KEY_FILE: '' } });
  try {
    const res = await srv.api('POST', '/dev/token', { name: 'Ann', room: 'r1', role: 'speaker' }, null);
    assert.is(res.status, 501);
    assert.is((res.body as ErrorBody).error.code, 'not_configured');
  } finally {
    await srv.stop();
  }
});

test.run();
