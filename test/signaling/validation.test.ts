// Bad input gets a typed error, changes nothing, and never hurts anyone else.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type TestServer } from '../support/server.js';

const test = suite<{ srv: TestServer }>('validation', {} as { srv: TestServer });
test.before(async (ctx) => {
  ctx.srv = await startServer();
});
test.after(async (ctx) => ctx.srv.stop());

async function rawError(srv: TestServer, data: string | Buffer, authed = true) {
  const client = await srv.connect();
  if (authed) await client.request('auth', { token: await srv.mint({ userId: 'u' }) });
  client.sendRaw(data);
  const error = await client.next('error');
  await client.close();
  return error;
}

test('bad_json for non-JSON text and binary frames', async ({ srv }) => {
  assert.is((await rawError(srv, '{nope')).code, 'bad_json');
  assert.is((await rawError(srv, Buffer.from([1, 2, 3]))).code, 'bad_json');
});

test('invalid_payload for a non-object envelope, bad id, bad type', async ({ srv }) => {
  const arr = await rawError(srv, '[1,2]');
  assert.equal([arr.code, arr.field], ['invalid_payload', 'type']);
  const id = await rawError(srv, JSON.stringify({ type: 'ping', id: 5, payload: {} }));
  assert.equal([id.code, id.field], ['invalid_payload', 'id']);
  const type = await rawError(srv, JSON.stringify({ type: 7, payload: {} }));
  assert.equal([type.code, type.field], ['invalid_payload', 'type']);
});

test('unknown_type names the type', async ({ srv }) => {
  const err = await rawError(srv, JSON.stringify({ type: 'launch-missiles', id: 'x', payload: {} }));
  assert.is(err.code, 'unknown_type');
  assert.match(err.message, 'launch-missiles');
});

test('invalid_payload names the field', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-val');
  const cases: Array<[string, unknown, string]> = [
    ['join', { room: '' }, 'payload.room'],
    ['offer', { to: 'PA_x' }, 'payload.sdp'],
    ['offer', { to: 42, sdp: 'x' }, 'payload.to'],
    ['mute', { track: 'smell' }, 'payload.track'],
    ['ice-candidate', { to: 'PA_x', candidate: 5 }, 'payload.candidate'],
    ['offer', 'not-an-object', 'payload'],
  ];
  for (const [type, payload, field] of cases) {
    a.client.sendRaw(JSON.stringify({ type, id: `${type}-${field}`, payload }));
    const err = await a.client.next('error');
    assert.is(err.code, 'invalid_payload', `${type} ${field}`);
    assert.is(err.field, field, `${type} ${field}`);
  }
  const bad = await srv.connect();
  await bad.request('auth', { token: await srv.mint({ userId: 'b' }) });
  const roomErr = await bad.request('join', { room: 'bad room!' }).catch((e) => e);
  assert.is(roomErr.field, 'payload.room');
  await bad.close();
  await a.client.close();
});

test('every request with an id gets exactly one reply with that id', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-ids');
  const b = await srv.joined('bob', 'r-ids');
  const replies: string[] = [];
  a.client.ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (m.id !== undefined) replies.push(`${m.id}:${m.type}`);
  });
  a.client.sendRaw(JSON.stringify({ type: 'offer', id: 'ok', payload: { to: b.id, sdp: 'x' } }));
  a.client.sendRaw(JSON.stringify({ type: 'offer', id: 'bad', payload: { to: 'nobody', sdp: 'x' } }));
  a.client.sendRaw(JSON.stringify({ type: 'ping', id: 'p', payload: { t: 5 } }));
  a.client.sendRaw(JSON.stringify({ type: 'nope', id: 'u', payload: {} }));
  const pong = await a.client.request('ping', { t: 1 });
  assert.is(pong.t, 1);
  assert.ok(pong.server_time > 0);
  assert.equal(replies.slice(0, 4), ['ok:ack', 'bad:error', 'p:ack', 'u:error']);
  assert.is(replies.length, 5);
  assert.match(replies[4], /^\d+:ack$/);
  await a.client.close();
  await b.client.close();
});

test('a misbehaving client does not disturb a call in progress', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-calm');
  const b = await srv.joined('bob', 'r-calm');
  const evil = await srv.joined('eve', 'r-evil');
  for (const junk of [
    '{',
    'null',
    '"str"',
    '{"type":"join","payload":{"room":{"$gt":""}}}',
    '{"type":"offer","payload":{"to":"' + a.id + '","sdp":"x"}}',
    '\u0000\u0001',
  ]) {
    evil.client.sendRaw(junk);
  }
  evil.client.sendRaw(Buffer.alloc(1000, 0xff));
  await a.client.request('offer', { to: b.id, sdp: 'still works' });
  assert.is((await b.client.next('offer')).sdp, 'still works');
  assert.is(a.client.unread('offer').length, 0, 'eve could not reach alice across rooms');
  const state = srv.app.rooms.getRoom('r-calm')!.state();
  assert.is(state.participants.length, 2);
  for (const x of [a, b, evil]) await x.client.close();
});

test.run();
