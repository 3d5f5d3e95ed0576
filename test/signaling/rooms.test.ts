// Joining, relaying and room isolation over real sockets.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type TestServer } from '../support/server.js';
import { eventually, sleep } from '../support/net.js';

const test = suite<{ srv: TestServer }>('rooms', {} as { srv: TestServer });
test.before(async (ctx) => {
  // Empty rooms end their call after 1 s (ROOM_EMPTY_TIMEOUT_SECONDS), so the lifecycle test is quick.
  ctx.srv = await startServer({ env: { ROOM_EMPTY_TIMEOUT_SECONDS: '1' } });
});
test.after(async (ctx) => ctx.srv.stop());

test('join returns room_state; others get peer-joined; call becomes active with the second participant', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-join');
  const bClient = await srv.connect();
  await bClient.request('auth', { token: await srv.mint({ userId: 'bob', name: 'Bob', role: 'viewer' }) });
  const joined = await bClient.request('join', { room: 'r-join', display_name: 'Bobby', capabilities: { video: true } });
  assert.is(joined.room_state.room, 'r-join');
  assert.equal(joined.room_state.participants.map((p) => p.user_id).sort(), ['alice', 'bob']);
  const me = joined.room_state.participants.find((p) => p.user_id === 'bob')!;
  assert.is(me.participant_id, joined.participant_id);
  assert.is(me.display_name, 'Bobby');
  assert.is(me.role, 'viewer');
  assert.is(joined.room_state.call.state, 'active');

  const peer = await a.client.next('peer-joined');
  assert.is(peer.participant.participant_id, joined.participant_id);
  assert.is(peer.participant.display_name, 'Bobby');
  const activeA = await a.client.next('call-state-changed');
  const activeB = await bClient.next('call-state-changed');
  assert.equal(activeA, { call_id: joined.room_state.call.call_id, state: 'active' });
  assert.equal(activeB, activeA);
  await a.client.close();
  await bClient.close();
});

test('offer/answer/ice-candidate reach only the target, with from added', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-relay');
  const b = await srv.joined('bob', 'r-relay');
  const c = await srv.joined('carol', 'r-relay');
  await a.client.request('offer', { to: b.id, sdp: 'v=0 offer' });
  assert.equal(await b.client.next('offer'), { to: b.id, sdp: 'v=0 offer', from: a.id });
  await b.client.request('answer', { to: a.id, sdp: 'v=0 answer' });
  assert.equal(await a.client.next('answer'), { to: a.id, sdp: 'v=0 answer', from: b.id });
  await a.client.request('ice-candidate', {
    to: b.id,
    candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host',
    sdpMid: '0',
    sdpMLineIndex: 0,
  });
  const ice = await b.client.next('ice-candidate');
  assert.is(ice.from, a.id);
  assert.is(ice.sdpMLineIndex, 0);
  await a.client.request('ice-candidate', { to: b.id, candidate: '', sdpMid: null, sdpMLineIndex: null });
  const end = await b.client.next('ice-candidate');
  assert.is(end.candidate, '');
  assert.is(end.sdpMid, null);
  await sleep(50);
  assert.is(c.client.unread('offer').length + c.client.unread('answer').length + c.client.unread('ice-candidate').length, 0);
  for (const p of [a, b, c]) await p.client.close();
});

test('relay to an unknown participant, to self, or to another room fails with peer_not_found', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-iso-1');
  const other = await srv.joined('mallory', 'r-iso-2');
  for (const to of ['PA_nobody', a.id, other.id]) {
    const err = await a.client.request('offer', { to, sdp: 'x' }).catch((e) => e);
    assert.is(err.code, 'peer_not_found', `to=${to}`);
    assert.is(err.field, 'to');
  }
  // Broadcasts stay in their room too.
  await a.client.request('mute', { track: 'audio' });
  await a.client.request('dtmf', { tones: '1' });
  await sleep(50);
  assert.is(other.client.unread().filter((m) => m.type !== 'call-state-changed').length, 0);
  await a.client.close();
  await other.client.close();
});

test('signaling before joining is not_in_room', async ({ srv }) => {
  const client = await srv.connect();
  await client.request('auth', { token: await srv.mint({ userId: 'x' }) });
  for (const [type, payload] of [
    ['offer', { to: 'PA_x', sdp: 'x' }],
    ['mute', { track: 'audio' }],
    ['hold', {}],
    ['leave', {}],
  ] as const) {
    const err = await client.request(type, payload as never).catch((e) => e);
    assert.is(err.code, 'not_in_room', type);
  }
  await client.close();
});

test('mute/unmute and hold/unhold reach the others and are kept in room_state', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-mute');
  const b = await srv.joined('bob', 'r-mute');
  await a.client.request('mute', { track: 'audio' });
  await a.client.request('mute', { track: 'video' });
  await a.client.request('unmute', { track: 'video' });
  await a.client.request('hold', {});
  assert.equal(await b.client.next('mute', (m) => m.track === 'audio'), { from: a.id, track: 'audio' });
  assert.equal(await b.client.next('unmute'), { from: a.id, track: 'video' });
  assert.equal(await b.client.next('hold'), { from: a.id });
  assert.is(a.client.unread('mute').length, 0, 'sender does not get its own mute back');

  const c = await srv.joined('carol', 'r-mute');
  const joinedState = srv.app.rooms.getRoom('r-mute')!.state();
  const alice = joinedState.participants.find((p) => p.participant_id === a.id)!;
  assert.equal([alice.audio_muted, alice.video_muted, alice.on_hold], [true, false, true]);

  const cClient = await srv.connect();
  await cClient.request('auth', { token: await srv.mint({ userId: 'dave' }) });
  const joined = await cClient.request('join', { room: 'r-mute' });
  const seen = joined.room_state.participants.find((p) => p.participant_id === a.id)!;
  assert.equal([seen.audio_muted, seen.video_muted, seen.on_hold], [true, false, true]);

  await a.client.request('unhold', {});
  assert.equal(await b.client.next('unhold'), { from: a.id });
  for (const x of [a.client, b.client, c.client, cClient]) await x.close();
});

test('dtmf is validated, normalized and delivered to the room or to one peer', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-dtmf');
  const b = await srv.joined('bob', 'r-dtmf');
  const c = await srv.joined('carol', 'r-dtmf');
  await a.client.request('dtmf', { tones: '12a#,*', duration: 200 });
  const got = await b.client.next('dtmf');
  assert.equal(got, { from: a.id, tones: '12A#,*', duration: 200, gap: 70 });
  await c.client.next('dtmf');
  await a.client.request('dtmf', { tones: '9', to: c.id });
  assert.is((await c.client.next('dtmf')).tones, '9');
  await sleep(50);
  assert.is(b.client.unread('dtmf').length, 0);

  for (const [payload, field] of [
    [{ tones: '12x' }, 'payload.tones'],
    [{ tones: '' }, 'payload.tones'],
    [{ tones: '1'.repeat(65) }, 'payload.tones'],
    [{ tones: '1', duration: 10 }, 'payload.duration'],
    [{ tones: '1', gap: 1.5 }, 'payload.gap'],
  ] as const) {
    const err = await a.client.request('dtmf', payload as never).catch((e) => e);
    assert.is(err.code, 'invalid_payload');
    assert.is(err.field, field);
  }
  for (const x of [a, b, c]) await x.client.close();
});

test('leave and disconnect send peer-left with the reason; the empty room ends its call after the empty timeout', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-leave');
  const b = await srv.joined('bob', 'r-leave');
  const c = await srv.joined('carol', 'r-leave');
  const callId = srv.app.rooms.getRoom('r-leave')!.callId;
  await b.client.request('leave', {});
  assert.equal(await a.client.next('peer-left'), { participant_id: b.id, reason: 'left' });
  c.client.ws.terminate();
  assert.equal(await a.client.next('peer-left'), { participant_id: c.id, reason: 'disconnected' });
  // bob may join again on the same connection
  const rejoined = await b.client.request('join', { room: 'r-leave' });
  assert.is(rejoined.room_state.call.call_id, callId);
  await b.client.request('leave', {});
  await a.client.request('leave', {});
  // Empty, but open for its empty timeout: a quick rejoin finds the same call.
  assert.is(srv.app.rooms.getRoom('r-leave')?.callId, callId, 'room kept while the empty timeout runs');
  const back = await a.client.request('join', { room: 'r-leave' });
  assert.is(back.room_state.call.call_id, callId);
  await a.client.request('leave', {});
  await eventually(() => srv.app.rooms.getRoom('r-leave') === undefined, 5000, 'room released after the empty timeout');
  const { body } = await srv.api('GET', `/calls/${callId}`);
  assert.is(body.status, 'ended');
  assert.is(body.end_reason, 'empty');
  await a.client.close();
  await b.client.close();
});

test('end-call: only a host may end it; everyone hears call-state-changed ended', async ({ srv }) => {
  const host = await srv.joined('hostess', 'r-end', { role: 'host' });
  const b = await srv.joined('bob', 'r-end');
  const err = await b.client.request('end-call', {}).catch((e) => e);
  assert.is(err.code, 'forbidden');
  assert.ok(srv.app.rooms.getRoom('r-end'), 'nothing changed');
  await host.client.request('end-call', {});
  const endedB = await b.client.next('call-state-changed', (s) => s.state === 'ended');
  assert.is(endedB.reason, 'ended-by-host');
  await host.client.next('call-state-changed', (s) => s.state === 'ended');
  assert.is(srv.app.rooms.getRoom('r-end'), undefined);
  // Removed from the room, still connected: signaling now says not_in_room.
  const after = await b.client.request('hold', {}).catch((e) => e);
  assert.is(after.code, 'not_in_room');
  // A new join opens a new call.
  const again = await b.client.request('join', { room: 'r-end' });
  assert.is.not(again.room_state.call.call_id, endedB.call_id);
  await host.client.close();
  await b.client.close();
});

test('the same user joining again replaces the old connection (4009)', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-dup');
  const watcher = await srv.joined('bob', 'r-dup');
  const again = await srv.joined('alice', 'r-dup');
  assert.is((await a.client.closed).code, 4009);
  assert.equal(await watcher.client.next('peer-left'), { participant_id: a.id, reason: 'replaced' });
  const added = await watcher.client.next('peer-joined', (p) => p.participant.participant_id === again.id);
  assert.is(added.participant.user_id, 'alice');
  assert.is(srv.app.rooms.getRoom('r-dup')!.participants.size, 2);
  await watcher.client.close();
  await again.client.close();
});

test('one room per connection: a second join is already_in_room', async ({ srv }) => {
  const a = await srv.joined('alice', 'r-one');
  const err = await a.client.request('join', { room: 'r-two' }).catch((e) => e);
  assert.is(err.code, 'already_in_room');
  assert.is(srv.app.rooms.getRoom('r-two'), undefined);
  await a.client.close();
});

test('requests pipelined without waiting are handled in order', async ({ srv }) => {
  const b = await srv.joined('bob', 'r-pipe');
  const client = await srv.connect();
  const token = await srv.mint({ userId: 'alice' });
  const [identity, joined, ack] = await Promise.all([
    client.request('auth', { token }),
    client.request('join', { room: 'r-pipe' }),
    client.request('offer', { to: b.id, sdp: 'pipelined' }),
  ]);
  assert.is(identity.user_id, 'alice');
  assert.is(joined.room_state.participants.length, 2);
  assert.equal(ack, {});
  assert.is((await b.client.next('offer')).sdp, 'pipelined');
  await client.close();
  await b.client.close();
});

test.run();
