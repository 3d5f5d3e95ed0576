// Client text the database cannot hold (NUL, lone UTF-16 surrogates) and
// JSON too deep to stringify are client mistakes: `invalid_payload` naming
// the field, at the edge, over the WebSocket and REST alike, and nothing is
// written. Against embedded PGlite and a real PostgreSQL server.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startServer, type TestServer } from '../support/server.js';

interface Ctx {
  pg: PostgresServer | null;
  srv: TestServer;
}

const NUL = 'a\u0000b';
const HIGH = 'a\uD800b'; // a high surrogate with no low one after it
const LOW = '\uDC00z'; // a low surrogate with no high one before it
const TABLES = [
  'rooms',
  'calls',
  'participants',
  'room_users',
  'room_hands',
  'whiteboard_strokes',
  'webhook_outbox',
  'recordings',
  'live_streams',
  'live_chat_messages',
  'room_chat_messages',
];

/** Row counts of every table, to show that refused input wrote nothing. */
async function counts(srv: TestServer): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) out[t] = Number((await srv.app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`))[0].n);
  return out;
}

/** A server reply as these tests read it: an error's code, message and field. */
interface Reply {
  type: string;
  id?: string;
  payload: { code: string; message: string; field?: string };
}

/** Sends a raw request and returns its reply (the one message carrying the id). */
async function reply(client: SignalingClient, type: string, payload: unknown, id: string): Promise<Reply> {
  const got = new Promise<Reply>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply to ${id}`)), 5000);
    const onMessage = (data: Buffer) => {
      const m = JSON.parse(data.toString()) as Reply;
      if (m.id === id) {
        clearTimeout(timer);
        client.ws.off('message', onMessage);
        resolve(m);
      }
    };
    client.ws.on('message', onMessage);
  });
  client.sendRaw(JSON.stringify({ type, id, payload }));
  return got;
}

for (const kind of ['pglite', 'postgres'] as const) {
  const test = suite<Ctx>(`text rule (${kind})`, { pg: null } as Ctx);
  test.before(async (ctx) => {
    if (kind === 'postgres') ctx.pg = await startPostgres();
    ctx.srv = await startServer({ ...(ctx.pg ? { databaseUrl: ctx.pg.url } : {}) });
  });
  test.after(async (ctx) => {
    await ctx.srv.stop();
    await ctx.pg?.stop();
  });

  test('WebSocket: NUL and lone surrogates in every kind of text are invalid_payload with the field; nothing is written', async ({
    srv,
  }) => {
    const host = await srv.joined('host', 'tr-ws', { role: 'host' });
    await host.client.request('whiteboard-draw', { stroke: { points: [1, 2], color: 'red' } }); // a real stroke, so the table is in use
    const stranger = await srv.connect();
    await stranger.request('auth', { token: await srv.mint({ userId: 'stranger' }) });
    const before = await counts(srv);
    const cases: Array<[SignalingClient, string, unknown, string]> = [
      [stranger, 'join', { room: 'tr-ws', display_name: NUL }, 'payload.display_name'],
      [stranger, 'join', { room: 'tr-ws', display_name: HIGH }, 'payload.display_name'],
      [stranger, 'join', { room: 'tr-ws', capabilities: { codec: LOW } }, 'payload.capabilities.codec'],
      [stranger, 'join', { room: 'tr-ws', capabilities: { [NUL]: true } }, 'payload.capabilities key'],
      [stranger, 'join', { room: 'tr-ws', capabilities: { list: [{ deep: ['ok', HIGH] }] } }, 'payload.capabilities.list[0].deep[1]'],
      [host.client, 'whiteboard-draw', { stroke: { points: [1, 2], label: NUL } }, 'payload.stroke.label'],
      [host.client, 'whiteboard-draw', { stroke: { [LOW]: 1 } }, 'payload.stroke key'],
      [host.client, 'update-room', { metadata: { title: HIGH } }, 'payload.metadata.title'],
      [host.client, 'send-data', { topic: 'chat', data: { text: NUL } }, 'payload.data.text'],
      [host.client, 'send-data', { topic: 'chat', data: LOW }, 'payload.data'],
      [host.client, 'live-chat', { text: `hello ${NUL}` }, 'payload.text'],
      [host.client, 'live-chat', { text: HIGH }, 'payload.text'],
      [host.client, 'chat-send', { text: `hello ${NUL}` }, 'payload.text'],
      [host.client, 'chat-send', { text: LOW }, 'payload.text'],
      [host.client, 'kick', { participant_id: host.id, reason: NUL }, 'payload.reason'],
      [host.client, 'admit', { user_id: NUL }, 'payload.user_id'],
      [host.client, 'lower-hand', { user_id: HIGH }, 'payload.user_id'],
    ];
    let n = 0;
    for (const [client, type, payload, field] of cases) {
      const m = await reply(client, type, payload, `c${n++}`);
      assert.is(m.type, 'error', `${type} ${field}`);
      assert.is(m.payload.code, 'invalid_payload', `${type} ${field}: ${m.payload.message}`);
      assert.is(m.payload.field, field, `${type} ${field}`);
    }
    assert.equal(await counts(srv), before, 'nothing was written');
    assert.is(srv.app.rooms.getRoom('tr-ws')!.state().participants.length, 1, 'the stranger did not join');
    // The good path still works on the same connections.
    const joined = await stranger.request('join', { room: 'tr-ws', display_name: 'Stranger 😀', capabilities: { emoji: '😀' } });
    assert.is(joined.room_state.participants.length, 2);
    await stranger.close();
    await host.client.close();
  });

  // Fuzz seed 777168995 (before the fix): a "__proto__" key holding NUL in capabilities came back `unavailable`.
  test('WebSocket: a "__proto__" key in capabilities is checked like any other', async ({ srv }) => {
    const c = await srv.connect();
    await c.request('auth', { token: await srv.mint({ userId: 'proto' }) });
    c.sendRaw(
      '{"type":"join","id":"p1","payload":{"room":"tr-proto","capabilities":{"codecs":{"__proto__":"\\u0000","constructor":"x"}}}}',
    );
    const err = await c.next('error');
    assert.equal([err.code, err.field], ['invalid_payload', 'payload.capabilities.codecs.__proto__']);
    const joined = await c.request('join', { room: 'tr-proto', capabilities: JSON.parse('{"__proto__":{"ok":true}}') });
    assert.is(joined.room_state.participants.length, 1);
    await c.close();
  });

  test('WebSocket: an envelope id with NUL is refused without echoing it', async ({ srv }) => {
    const c = await srv.connect();
    await c.request('auth', { token: await srv.mint({ userId: 'ids' }) });
    c.sendRaw(JSON.stringify({ type: 'ping', id: `x${NUL}`, payload: {} }));
    const err = await c.next('error');
    assert.is(err.code, 'invalid_payload');
    assert.is(err.field, 'id');
    await c.close();
  });

  test('WebSocket: deeply nested data, strokes, capabilities and metadata are invalid_payload, and the server stays healthy', async ({
    srv,
  }) => {
    const host = await srv.joined('nest-host', 'tr-nest', { role: 'host' });
    const peer = await srv.joined('nest-peer', 'tr-nest');
    const before = await counts(srv);
    // 25 000 levels: JSON.stringify of this overflows the stack (it answered internal_error before).
    const deepArray = '['.repeat(25_000) + ']'.repeat(25_000);
    const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    const frames: Array<[string, string]> = [
      ['d1', `{"type":"send-data","id":"d1","payload":{"topic":"t","data":${deepArray}}}`],
      ['d2', `{"type":"send-data","id":"d2","payload":{"topic":"t","data":${deepObject}}}`],
      ['d3', `{"type":"whiteboard-draw","id":"d3","payload":{"stroke":${deepObject}}}`],
      ['d4', `{"type":"update-room","id":"d4","payload":{"metadata":${deepObject}}}`],
    ];
    for (const [id, frame] of frames) {
      const got = new Promise<Reply>((resolve) => {
        const on = (d: Buffer) => {
          const m = JSON.parse(d.toString()) as Reply;
          if (m.id === id) {
            host.client.ws.off('message', on);
            resolve(m);
          }
        };
        host.client.ws.on('message', on);
      });
      host.client.sendRaw(frame);
      const m = await got;
      assert.is(m.type, 'error', id);
      assert.is(m.payload.code, 'invalid_payload', `${id}: ${m.payload.message}`);
      assert.match(m.payload.message, /nest deeper than 32/);
    }
    // 32 nested arrays/objects is the bound: exactly that deep still passes; one more does not.
    let ok: unknown = 1;
    for (let i = 0; i < 32; i++) ok = [ok];
    await host.client.request('send-data', { topic: 't', data: ok });
    assert.equal((await peer.client.next('data')).data, ok);
    const tooDeep = await host.client.request('send-data', { topic: 't', data: [ok] }).catch((e) => e);
    assert.is(tooDeep.code, 'invalid_payload');
    assert.equal(await counts(srv), before);
    assert.is(peer.client.unread('data').length, 0, 'nothing refused was relayed');
    await host.client.close();
    await peer.client.close();
  });

  test('REST: bodies, path parameters and query strings follow the same rule; nothing is written', async ({ srv }) => {
    const host = await srv.joined('rest-host', 'tr-rest', { role: 'host' });
    const before = await counts(srv);
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/v1/rooms', { name: 'tr-new', metadata: { note: NUL } }, 'metadata.note'],
      ['POST', '/api/v1/rooms', { name: 'tr-new2', metadata: { [HIGH]: 1 } }, 'metadata key'],
      ['PATCH', '/api/v1/rooms/tr-rest', { metadata: { x: [LOW] } }, 'metadata.x[0]'],
      ['POST', '/calls', { room: 'tr-call', metadata: { x: NUL } }, 'metadata.x'],
      ['POST', '/api/v1/rooms/tr-rest/hands', { user_id: NUL }, 'user_id'],
      ['POST', '/api/v1/rooms/tr-rest/join', { user_id: HIGH }, 'user_id'],
      ['POST', '/api/v1/rooms/tr-rest/data', { topic: 't', data: { s: LOW } }, 'data.s'],
      ['POST', '/api/v1/rooms/tr-rest/lobby/someone/deny', { reason: NUL }, 'reason'],
      ['POST', '/api/v1/rooms/tr-rest/participants/x/kick', { reason: HIGH }, 'reason'],
      ['DELETE', '/api/v1/rooms/tr-rest/hands/a%00b', undefined, 'user_id'],
      ['POST', '/api/v1/rooms/tr-rest/lobby/a%00b/admit', undefined, 'user_id'],
      ['DELETE', '/api/v1/rooms/tr-rest/participants/a%00b', undefined, 'pid'],
      ['GET', '/api/v1/rooms/tr-rest%00', undefined, 'room'],
      ['GET', '/api/v1/recordings?room=a%00b', undefined, 'room'],
      ['GET', '/api/v1/recordings?status=a%00b', undefined, 'status'],
      ['GET', '/api/v1/rooms?limit=%00', undefined, 'limit'],
      ['POST', '/auth/token', { user_id: NUL }, 'user_id'],
      ['POST', '/auth/token', { user_id: 'ok', name: HIGH }, 'name'],
    ];
    for (const [method, route, body, field] of cases) {
      const res = await srv.api(method, route, body);
      assert.is(res.status, 400, `${method} ${route}: ${JSON.stringify(res.body)}`);
      assert.is(res.body.error.code, 'invalid_payload', `${method} ${route}`);
      assert.is(res.body.error.field, field, `${method} ${route}`);
    }
    assert.equal(await counts(srv), before, 'nothing was written');
    // A 36-character id that is not a UUID is no recording (it reached a uuid cast before).
    const notUuid = await srv.api('GET', `/api/v1/recordings/${'-'.repeat(36)}`);
    assert.is(notUuid.status, 404);
    await host.client.close();
  });

  test('tokens: a signed token whose sub or name breaks the rule is unauthorized at auth, not a database error later', async ({ srv }) => {
    for (const [userId, name] of [
      [NUL, undefined],
      [HIGH, undefined],
      ['fine', LOW],
    ] as const) {
      const c = await srv.connect();
      const err = await c.request('auth', { token: await srv.mint({ userId, ...(name ? { name } : {}) }) }).catch((e) => e);
      assert.is(err.code, 'unauthorized', JSON.stringify(userId));
      assert.match(err.message, /NUL|surrogate/);
      assert.is((await c.closed).code, 4001);
    }
  });

  test.run();
}
