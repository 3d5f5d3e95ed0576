// The in-call chat over real sockets and REST: send (acked once stored, heard
// by everyone), history in `joined` for a late joiner (the call's last 100,
// oldest first), replies, deletion by the author, refused for a speaker and
// allowed for a moderator, the per-user rate limit, invalid payloads, the
// REST read (pages, other calls) and delete, and a new call's empty chat
// (after an end, or a restart).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CHAT_HISTORY, type ChatMessage } from '../../signaling/protocol/protocol.js';
import { CHAT_BURST } from '../../server/domain/rooms/roomChat.js';
import { rmSync } from 'node:fs';
import { startServer, type TestServer } from '../support/server.js';

const test = suite<{ srv: TestServer }>('in-call chat', {} as { srv: TestServer });
test.before(async (ctx) => {
  ctx.srv = await startServer({ env: { ROOM_EMPTY_TIMEOUT_SECONDS: '0' } });
});
test.after(async (ctx) => ctx.srv.stop());

async function rows(srv: TestServer, room: string): Promise<Array<{ id: string; text: string; deleted: boolean }>> {
  return srv.app.db.query(
    `SELECT id::text AS id, text, deleted_at IS NOT NULL AS deleted FROM room_chat_messages WHERE room = $1 ORDER BY id`,
    [room],
  );
}

async function joinAs(srv: TestServer, userId: string, room: string, role: 'host' | 'moderator' | 'speaker' | 'viewer', name?: string) {
  const client = await srv.connect();
  await client.request('auth', { token: await srv.mint({ userId, role, ...(name ? { name } : {}) }) });
  const joined = await client.request('join', { room });
  return { client, id: joined.participant_id, state: joined.room_state };
}

test('send: acked with the stored message once committed; everyone (the sender too) gets chat-message; a late joiner gets the history', async ({
  srv,
}) => {
  const ann = await joinAs(srv, 'ann', 'chat-a', 'speaker', 'Ann');
  const vic = await joinAs(srv, 'vic', 'chat-a', 'viewer', 'Vic');
  assert.equal(ann.state.chat, [], 'a new call has no chat');

  const { message } = await ann.client.request('chat-send', { text: '  hello <b>room</b>  ' });
  assert.equal(
    { ...message, message_id: '', sent_at: '' },
    { message_id: '', participant_id: ann.id, user_id: 'ann', display_name: 'Ann', text: 'hello <b>room</b>', reply_to: null, sent_at: '' },
  );
  assert.ok(Date.parse(message.sent_at) > 0);
  // Committed before the ack.
  assert.equal(await rows(srv, 'chat-a'), [{ id: message.message_id, text: 'hello <b>room</b>', deleted: false }]);
  assert.equal((await vic.client.next('chat-message')).message, message);
  assert.equal((await ann.client.next('chat-message')).message, message);

  // Viewers chat too, and reply.
  const reply = (await vic.client.request('chat-send', { text: 'hi Ann', reply_to: message.message_id })).message;
  assert.is(reply.reply_to, message.message_id);
  assert.equal((await ann.client.next('chat-message')).message, reply);

  const late = await joinAs(srv, 'lou', 'chat-a', 'speaker');
  assert.equal(late.state.chat, [message, reply], 'the history, oldest first');
  for (const c of [ann, vic, late]) await c.client.close();
});

test('history in joined is the call latest 100, oldest first', async ({ srv }) => {
  const host = await joinAs(srv, 'h100', 'chat-100', 'host');
  const sent: ChatMessage[] = [];
  const room = srv.app.rooms.getRoom('chat-100')!;
  for (let i = 0; i < CHAT_HISTORY + 5; i++) {
    room.chatLimits.clear(); // this test is about the history, not the rate limit
    sent.push((await host.client.request('chat-send', { text: `m${i}` })).message);
  }
  const late = await joinAs(srv, 'late100', 'chat-100', 'viewer');
  assert.is(late.state.chat!.length, CHAT_HISTORY);
  assert.equal(late.state.chat, sent.slice(5));
  // Deleting one of the kept ones brings the next older one back into the 100.
  await host.client.request('chat-delete', { message_id: sent[50].message_id });
  const again = await joinAs(srv, 'later100', 'chat-100', 'viewer');
  const expected = sent.slice(4).filter((m) => m !== sent[50]);
  assert.equal(
    again.state.chat!.map((m) => m.text),
    expected.map((m) => m.text),
  );
  assert.equal(again.state.chat, expected);
  for (const c of [host, late, again]) await c.client.close();
});

test('delete: the author may; a speaker may not delete another message (forbidden, nothing changes); a moderator may', async ({ srv }) => {
  const ann = await joinAs(srv, 'ann', 'chat-del', 'speaker', 'Ann');
  const bob = await joinAs(srv, 'bob', 'chat-del', 'speaker', 'Bob');
  const mod = await joinAs(srv, 'mo', 'chat-del', 'moderator', 'Mo');
  const a1 = (await ann.client.request('chat-send', { text: 'first' })).message;
  const a2 = (await ann.client.request('chat-send', { text: 'second' })).message;

  // The author deletes it: gone for everyone, from memory and history.
  await ann.client.request('chat-delete', { message_id: a1.message_id });
  assert.equal(await bob.client.next('chat-deleted'), { message_id: a1.message_id, by: ann.id });
  assert.equal(await mod.client.next('chat-deleted'), { message_id: a1.message_id, by: ann.id });
  assert.equal(
    srv.app.rooms.getRoom('chat-del')!.chat.map((m) => m.message_id),
    [a2.message_id],
  );
  // Deleting it again: not_found.
  assert.is((await ann.client.request('chat-delete', { message_id: a1.message_id }).catch((e) => e)).code, 'not_found');

  // Bob (a speaker) tries Ann's: forbidden, and nothing changed anywhere.
  const err = await bob.client.request('chat-delete', { message_id: a2.message_id }).catch((e) => e);
  assert.is(err.code, 'forbidden');
  assert.equal(
    (await rows(srv, 'chat-del')).map((r) => r.deleted),
    [true, false],
  );
  assert.equal(
    srv.app.rooms.getRoom('chat-del')!.chat.map((m) => m.message_id),
    [a2.message_id],
  );
  // A moderator may.
  await mod.client.request('chat-delete', { message_id: a2.message_id });
  assert.equal(await ann.client.next('chat-deleted', (d) => d.message_id === a2.message_id), { message_id: a2.message_id, by: mod.id });
  assert.equal(await bob.client.next('chat-deleted', (d) => d.message_id === a2.message_id), { message_id: a2.message_id, by: mod.id });
  const late = await joinAs(srv, 'late', 'chat-del', 'viewer');
  assert.equal(late.state.chat, [], 'deleted messages leave the history');
  // A message that does not exist, and replying to a deleted one.
  assert.is((await mod.client.request('chat-delete', { message_id: '999999999' }).catch((e) => e)).code, 'not_found');
  const badReply = await ann.client.request('chat-send', { text: 'x', reply_to: a2.message_id }).catch((e) => e);
  assert.equal([badReply.code, badReply.field], ['not_found', 'reply_to']);
  for (const c of [ann, bob, mod, late]) await c.client.close();
});

test('rate limit per user: a burst passes, then rate_limited; nothing stored for the refused one', async ({ srv }) => {
  const ann = await joinAs(srv, 'ann', 'chat-rate', 'speaker');
  for (let i = 0; i < CHAT_BURST; i++) await ann.client.request('chat-send', { text: `burst ${i}` });
  const err = await ann.client.request('chat-send', { text: 'one too many' }).catch((e) => e);
  assert.is(err.code, 'rate_limited');
  assert.is((await rows(srv, 'chat-rate')).length, CHAT_BURST);
  // Another user is not limited by Ann's burst.
  const bob = await joinAs(srv, 'bob', 'chat-rate', 'speaker');
  await bob.client.request('chat-send', { text: 'my turn' });
  for (const c of [ann, bob]) await c.client.close();
});

test('invalid payloads are refused with invalid_payload and store nothing', async ({ srv }) => {
  const ann = await joinAs(srv, 'ann', 'chat-bad', 'speaker');
  const bad: unknown[] = [{}, { text: '' }, { text: '   ' }, { text: 'x'.repeat(2001) }, { text: 42 }, { text: 'ok', reply_to: 'abc' }];
  for (const payload of bad) {
    const err = await ann.client.request('chat-send', payload as never).catch((e) => e);
    assert.is(err.code, 'invalid_payload', JSON.stringify(payload).slice(0, 60));
  }
  for (const payload of [{}, { message_id: 'x' }, { message_id: '' }]) {
    const err = await ann.client.request('chat-delete', payload as never).catch((e) => e);
    assert.is(err.code, 'invalid_payload', JSON.stringify(payload));
  }
  assert.is((await rows(srv, 'chat-bad')).length, 0);
  // The longest message passes.
  await ann.client.request('chat-send', { text: 'x'.repeat(2000) });
  // Out of a room: not_in_room.
  const out = await srv.connect();
  await out.request('auth', { token: await srv.mint({ userId: 'out' }) });
  assert.is((await out.request('chat-send', { text: 'hello?' }).catch((e) => e)).code, 'not_in_room');
  await ann.client.close();
  await out.close();
});

test('REST: read pages of the latest call and of an older call; delete with the API key (everyone in the call is told); a new call starts empty', async ({
  srv,
}) => {
  const ann = await joinAs(srv, 'ann', 'chat-rest', 'host');
  const bob = await joinAs(srv, 'bob', 'chat-rest', 'viewer');
  const callId = ann.state.call.call_id;
  const sent: ChatMessage[] = [];
  for (const text of ['one', 'two', 'three', 'four']) sent.push((await ann.client.request('chat-send', { text })).message);

  // No API key: 401.
  assert.is((await srv.api('GET', '/api/v1/rooms/chat-rest/chat', undefined, null)).status, 401);
  const all = await srv.api('GET', '/api/v1/rooms/chat-rest/chat');
  assert.is(all.status, 200);
  assert.equal(all.body, { call_id: callId, messages: sent, next_before: null });
  const page = await srv.api('GET', '/api/v1/rooms/chat-rest/chat?limit=2');
  assert.equal([page.body.messages, page.body.next_before], [sent.slice(2), sent[2].message_id]);
  const older = await srv.api('GET', `/api/v1/rooms/chat-rest/chat?limit=2&before=${page.body.next_before}`);
  assert.equal(older.body.messages, sent.slice(0, 2));
  assert.is((await srv.api('GET', '/api/v1/rooms/chat-rest/chat?before=abc')).status, 400);
  assert.is((await srv.api('GET', '/api/v1/rooms/chat-rest/chat?call_id=nope')).status, 400);
  assert.is((await srv.api('GET', '/api/v1/rooms/chat-rest/chat?call_id=00000000-0000-0000-0000-000000000000')).status, 404);
  assert.is((await srv.api('GET', '/api/v1/rooms/no-such-room-ever/chat')).status, 404);

  // Delete over REST: the room hears it (by: null).
  assert.is((await srv.api('DELETE', `/api/v1/rooms/chat-rest/chat/${sent[1].message_id}`, undefined, null)).status, 401);
  assert.is((await srv.api('DELETE', `/api/v1/rooms/chat-rest/chat/${sent[1].message_id}`)).status, 200);
  assert.equal(await bob.client.next('chat-deleted'), { message_id: sent[1].message_id, by: null });
  assert.is((await srv.api('DELETE', `/api/v1/rooms/chat-rest/chat/${sent[1].message_id}`)).status, 404);
  assert.is((await srv.api('DELETE', '/api/v1/rooms/chat-rest/chat/abc')).status, 404);
  assert.is((await srv.api('DELETE', `/api/v1/rooms/chat-a/chat/${sent[0].message_id}`)).status, 404, 'a message of another room');

  // The call ends; a new call of the room starts with an empty chat; the old one stays readable.
  await ann.client.request('end-call', {});
  await bob.client.next('call-state-changed', (c) => c.state === 'ended');
  const again = await joinAs(srv, 'ann', 'chat-rest', 'host');
  assert.not.equal(again.state.call.call_id, callId);
  assert.equal(again.state.chat, []);
  assert.equal((await srv.api('GET', '/api/v1/rooms/chat-rest/chat')).body, {
    call_id: again.state.call.call_id,
    messages: [],
    next_before: null,
  });
  const old = await srv.api('GET', `/api/v1/rooms/chat-rest/chat?call_id=${callId}`);
  assert.equal(
    old.body.messages.map((m: ChatMessage) => m.text),
    ['one', 'three', 'four'],
  );
  // A message of the ended call: the participants of the new call cannot delete it; REST can.
  const code = (await again.client.request('chat-delete', { message_id: sent[0].message_id }).catch((e) => e)).code;
  assert.is(code, 'not_found');
  assert.is((await srv.api('DELETE', `/api/v1/rooms/chat-rest/chat/${sent[0].message_id}`)).status, 200);
  assert.is(again.client.unread('chat-deleted').length, 0, 'no event for a message of another call');
  // Every message sent in this file is counted.
  const metrics = await srv.api('GET', '/metrics');
  const count = Number(/^switchboard_room_chat_messages_total (\d+)$/m.exec(String(metrics.body))?.[1]);
  assert.ok(count >= CHAT_HISTORY + 5, `counted ${count}`);
  for (const c of [ann, bob, again]) await c.client.close();
});

test('a restart ends the call (as every call): the room starts a new, empty chat; the old one is stored and readable over REST', async () => {
  const first = await startServer({ env: { ROOM_EMPTY_TIMEOUT_SECONDS: '300' } });
  const dataDir = first.dataDir;
  const ann = await joinAs(first, 'ann', 'chat-restart', 'host');
  const kept = (await ann.client.request('chat-send', { text: 'before the restart' })).message;
  await first.app.close();
  const second = await startServer({ dataDir, env: { ROOM_EMPTY_TIMEOUT_SECONDS: '300' } });
  try {
    const again = await joinAs(second, 'ann', 'chat-restart', 'host');
    assert.not.equal(again.state.call.call_id, ann.state.call.call_id);
    assert.equal(again.state.chat, []);
    const old = await second.api('GET', `/api/v1/rooms/chat-restart/chat?call_id=${ann.state.call.call_id}`);
    assert.equal(old.body.messages, [kept]);
    await again.client.close();
  } finally {
    await second.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
