// Room control over real sockets: the hand queue, kick and lock (with races),
// the lobby, room types and capacity, the empty timeout, data messages and
// the whiteboard.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { eventually, sleep } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

const test = suite<{ srv: TestServer }>('room control', {} as { srv: TestServer });
test.before(async (ctx) => {
  ctx.srv = await startServer({ env: { ROOM_EMPTY_TIMEOUT_SECONDS: '1', KICK_BAN_SECONDS: '60' } });
});
test.after(async (ctx) => ctx.srv.stop());

test('hand queue: concurrent raises are FIFO, once per user, persisted, broadcast on every change', async ({ srv }) => {
  const host = await srv.joined('h', 'c-hands', { role: 'host' });
  const viewers = await Promise.all(Array.from({ length: 8 }, (_, i) => srv.joined(`v${i}`, 'c-hands', { role: 'viewer' })));
  // Everyone raises at once, some twice.
  const results = await Promise.all(viewers.flatMap((v) => [v.client.request('raise-hand', {}), v.client.request('raise-hand', {})]));
  const positions = results.map((r) => r.position);
  const queue = srv.app.rooms.getRoom('c-hands')!.handQueue();
  assert.is(queue.length, 8, 'each user once');
  assert.equal([...new Set(queue.map((h) => h.user_id))].length, 8);
  assert.equal(positions.filter((_, i) => i % 2 === 0).sort(), [1, 2, 3, 4, 5, 6, 7, 8].sort(), 'first raises got distinct places');
  for (let i = 0; i < results.length; i += 2) assert.is(results[i + 1].position, results[i].position, 'a second raise keeps the place');
  // Memory and rows agree, in order.
  const rows = await srv.app.db.query<{ user_id: string }>(`SELECT user_id FROM room_hands WHERE room = 'c-hands' ORDER BY seq`);
  assert.equal(
    rows.map((r) => r.user_id),
    queue.map((h) => h.user_id),
  );
  const last = await host.client.next('hand-queue', (q) => q.hands.length === 8);
  assert.equal(
    last.hands.map((h) => h.user_id),
    queue.map((h) => h.user_id),
  );

  // Acknowledge the head (promoting the viewer), lower one's own, a disconnect keeps the place.
  const head = queue[0];
  const ack = await host.client.request('acknowledge-hand', { promote: true });
  assert.is(ack.hand.user_id, head.user_id);
  const promoted = viewers.find((v) => v.id === head.participant_id)!;
  assert.equal(await promoted.client.next('role-changed'), { participant_id: promoted.id, role: 'speaker', by: host.id });
  const second = viewers.find((v) => v.id === queue[1].participant_id)!;
  await second.client.request('lower-hand', {});
  const third = viewers.find((v) => v.id === queue[2].participant_id)!;
  third.client.ws.terminate();
  await host.client.next('peer-left', (p) => p.participant_id === third.id);
  const afterDrop = await host.client.next('hand-queue', (q) => q.hands[0]?.participant_id === null);
  assert.is(afterDrop.hands[0].user_id, queue[2].user_id, 'a dropped connection keeps its place');
  const back = await srv.joined(queue[2].user_id, 'c-hands', { role: 'viewer' });
  const rejoined = await host.client.next('hand-queue', (q) => q.hands[0]?.participant_id === back.id);
  assert.is(rejoined.hands.length, 6);
  // REST sees the same queue.
  const { body } = await srv.api('GET', '/api/v1/rooms/c-hands/hands');
  assert.equal(
    body.hands.map((h: { user_id: string }) => h.user_id),
    rejoined.hands.map((h) => h.user_id),
  );
  for (const v of [host, back, ...viewers]) await v.client.close();
});

test('kick: the kicked one is told why, leaves, and cannot rejoin with the same token (banned)', async ({ srv }) => {
  const mod = await srv.joined('mod', 'c-kick', { role: 'moderator' });
  const watcher = await srv.joined('w', 'c-kick', { role: 'viewer' });
  const token = await srv.mint({ userId: 'troll', role: 'speaker' });
  const troll = await srv.connect();
  await troll.request('auth', { token });
  const joined = await troll.request('join', { room: 'c-kick' });
  // Two moderators' kicks race: exactly one wins, the other finds nobody.
  const mod2 = await srv.joined('mod2', 'c-kick', { role: 'moderator' });
  const outcomes = await Promise.all([
    mod.client.request('kick', { participant_id: joined.participant_id, reason: 'spam' }).then(
      () => 'ok',
      (e) => e.code,
    ),
    mod2.client.request('kick', { participant_id: joined.participant_id }).then(
      () => 'ok',
      (e) => e.code,
    ),
  ]);
  assert.equal(outcomes.sort(), ['ok', 'peer_not_found']);
  const kicked = await troll.next('kicked');
  assert.is(kicked.ban_seconds, 60);
  assert.ok(['spam', 'removed by a moderator'].includes(kicked.reason));
  assert.equal(await watcher.client.next('peer-left', (p) => p.participant_id === joined.participant_id), {
    participant_id: joined.participant_id,
    reason: 'kicked',
  });
  // Still connected, out of the room; rejoin refused, on this and on a new connection.
  assert.is((await troll.request('hold', {}).catch((e) => e)).code, 'not_in_room');
  assert.is((await troll.request('join', { room: 'c-kick' }).catch((e) => e)).code, 'banned');
  const again = await srv.connect();
  await again.request('auth', { token });
  assert.is((await again.request('join', { room: 'c-kick' }).catch((e) => e)).code, 'banned');
  const ban = await srv.app.db.query<{ banned_until: Date }>(
    `SELECT banned_until FROM room_users WHERE room = 'c-kick' AND user_id = 'troll'`,
  );
  assert.ok(ban[0].banned_until.getTime() > Date.now() + 50_000, 'ban persisted');
  for (const x of [mod.client, mod2.client, watcher.client, troll, again]) await x.close();
});

test('kick racing the same user rejoining from a new connection: either order ends consistent', async ({ srv }) => {
  for (let round = 0; round < 5; round++) {
    const room = `c-kickrace-${round}`;
    const mod = await srv.joined('mod', room, { role: 'moderator' });
    const target = await srv.joined('racer', room, { role: 'viewer' });
    const second = await srv.connect();
    await second.request('auth', { token: await srv.mint({ userId: 'racer', role: 'viewer' }) });
    const [kick, join] = await Promise.all([
      mod.client.request('kick', { participant_id: target.id }).then(
        () => 'ok',
        (e) => e.code,
      ),
      second.request('join', { room }).then(
        (j) => j.participant_id,
        (e) => e.code,
      ),
    ]);
    const inRoom = srv.app.rooms.getRoom(room)!.findByUser('racer');
    if (kick === 'ok') {
      // The kick came first: the rejoin was refused by the ban.
      assert.is(join, 'banned');
      assert.is(inRoom, undefined);
    } else {
      // The rejoin came first and replaced the kicked connection: the kick found nobody.
      assert.is(kick, 'peer_not_found');
      assert.is(inRoom?.id, join);
    }
    for (const x of [mod.client, target.client, second]) await x.close();
  }
});

test('lock: a locked room refuses new joins except hosts/moderators; lock and join race cleanly', async ({ srv }) => {
  const host = await srv.joined('h', 'c-lock', { role: 'host' });
  // Joins racing the lock: each either got in before it or was refused; none half in.
  const racers = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      const c = await srv.connect();
      await c.request('auth', { token: await srv.mint({ userId: `r${i}` }) });
      return c;
    }),
  );
  const joins = racers.map((c) =>
    c.request('join', { room: 'c-lock' }).then(
      () => 'in',
      (e) => e.code,
    ),
  );
  await host.client.request('lock-room', {});
  const outcomes = await Promise.all(joins);
  assert.ok(
    outcomes.every((o) => o === 'in' || o === 'room_locked'),
    outcomes.join(),
  );
  const room = srv.app.rooms.getRoom('c-lock')!;
  assert.is(room.participants.size, 1 + outcomes.filter((o) => o === 'in').length);
  const upd = await host.client.next('room-updated');
  assert.is(upd.settings.locked, true);
  const late = await srv.connect();
  await late.request('auth', { token: await srv.mint({ userId: 'late' }) });
  assert.is((await late.request('join', { room: 'c-lock' }).catch((e) => e)).code, 'room_locked');
  const mod = await srv.joined('m', 'c-lock', { role: 'moderator' });
  await mod.client.request('unlock-room', {});
  await late.request('join', { room: 'c-lock' });
  for (const x of [host.client, mod.client, late, ...racers]) await x.close();
});

test('lobby: joiners wait until admitted or denied; staff skip it and see the list; leaving the lobby updates it', async ({ srv }) => {
  const host = await srv.joined('h', 'c-lobby', { role: 'host' });
  await host.client.request('update-room', { lobby: true });
  const join = async (user: string) => {
    const c = await srv.connect();
    await c.request('auth', { token: await srv.mint({ userId: user, role: 'viewer' }) });
    return { c, joining: c.request('join', { room: 'c-lobby' }, 20_000).catch((e) => e) };
  };
  const ann = await join('ann');
  assert.equal(await ann.c.next('lobby-waiting'), { room: 'c-lobby' });
  const list = await host.client.next('lobby-updated', (l) => l.waiting.length === 1);
  assert.is(list.waiting[0].user_id, 'ann');
  assert.is(srv.app.rooms.getRoom('c-lobby')!.participants.size, 1, 'not in the room yet');
  // Waiting does not hold up the connection: pings are answered meanwhile.
  assert.ok((await ann.c.request('ping', { t: 1 })).server_time > 0);
  const ben = await join('ben');
  await ben.c.next('lobby-waiting');
  const cid = await join('cid');
  await cid.c.next('lobby-waiting');
  await host.client.next('lobby-updated', (l) => l.waiting.length === 3);
  // A moderator joining skips the lobby and is told who waits.
  const mod = await srv.joined('mod', 'c-lobby', { role: 'moderator' });
  assert.equal(
    (await mod.client.next('lobby-updated')).waiting.map((w) => w.user_id),
    ['ann', 'ben', 'cid'],
  );

  await mod.client.request('admit', { user_id: 'ann' });
  const annJoined = await ann.joining;
  assert.ok(annJoined.participant_id, 'admitted: join answered with joined');
  await host.client.next('peer-joined', (p) => p.participant.user_id === 'ann');
  await host.client.request('deny', { user_id: 'ben', reason: 'not on the list' });
  const denied = await ben.joining;
  assert.is(denied.code, 'lobby_denied');
  assert.match(denied.message, /not on the list/);
  cid.c.ws.terminate(); // gives up waiting
  assert.equal((await host.client.next('lobby-updated', (l) => l.waiting.length === 0)).waiting, []);
  const dee = await join('dee');
  await dee.c.next('lobby-waiting');
  await host.client.next('lobby-updated', (l) => l.waiting.length === 1);
  await dee.c.request('leave', {}); // leaves the lobby: its join fails
  assert.is((await dee.joining).code, 'not_in_room');
  assert.equal((await host.client.next('lobby-updated', (l) => l.waiting.length === 0)).waiting, []);
  assert.is((await host.client.request('admit', { user_id: 'cid' }).catch((e) => e)).code, 'not_found');
  assert.is(srv.app.rooms.getRoom('c-lobby')!.participants.size, 3);
  // Turning the lobby off lets the waiting in.
  const eve = await join('eve');
  await eve.c.next('lobby-waiting');
  await host.client.request('update-room', { lobby: false });
  assert.ok((await eve.joining).participant_id, 'admitted when the lobby was turned off');
  for (const x of [host.client, mod.client, ann.c, ben.c, dee.c, eve.c]) await x.close();
});

test('room types and capacity: individual rooms hold 2 (room_full), REST-created settings apply', async ({ srv }) => {
  const created = await srv.api('POST', '/api/v1/rooms', { name: 'c-one', type: 'individual', metadata: { topic: 'x' } });
  assert.is(created.status, 201);
  assert.equal(
    [created.body.settings.type, created.body.settings.max_participants, created.body.settings.metadata],
    ['individual', 2, { topic: 'x' }],
  );
  assert.is((await srv.api('POST', '/api/v1/rooms', { name: 'c-one' })).status, 409);
  // The recording side's question, before anyone joined and after a change.
  assert.is(await srv.app.rooms.recordingAllowed('c-one'), true);
  await srv.api('PATCH', '/api/v1/rooms/c-one', { recording_allowed: false });
  assert.is(await srv.app.rooms.recordingAllowed('c-one'), false);
  const a = await srv.joined('a', 'c-one');
  const b = await srv.joined('b', 'c-one');
  const c = await srv.connect();
  await c.request('auth', { token: await srv.mint({ userId: 'c' }) });
  assert.is((await c.request('join', { room: 'c-one' }).catch((e) => e)).code, 'room_full');
  // The same user reconnecting is not refused (it replaces its old connection).
  const a2 = await srv.joined('a', 'c-one');
  assert.is((await a.client.closed).code, 4009);
  assert.is(a2.id.length > 0, true);
  for (const x of [a2.client, b.client, c]) await x.close();
});

test('empty timeout: an empty room closes after it (call ended, room_finished), a rejoin in time keeps the call', async ({ srv }) => {
  await srv.api('POST', '/api/v1/rooms', { name: 'c-empty', empty_timeout: 2 });
  const a = await srv.joined('a', 'c-empty');
  const callId = srv.app.rooms.getRoom('c-empty')!.callId;
  await a.client.request('leave', {});
  await sleep(1000);
  const back = await a.client.request('join', { room: 'c-empty' });
  assert.is(back.room_state.call.call_id, callId, 'rejoined within the timeout: same call');
  assert.is(back.room_state.settings!.empty_timeout, 2);
  await a.client.request('leave', {});
  await eventually(() => srv.app.rooms.getRoom('c-empty') === undefined, 6000, 'room closed');
  const { body } = await srv.api('GET', `/calls/${callId}`);
  assert.equal([body.status, body.end_reason], ['ended', 'empty']);
  await a.client.close();
});

test('data messages: to everyone but the sender or to one participant, with a topic; size limited', async ({ srv }) => {
  const a = await srv.joined('a', 'c-data', { role: 'viewer' });
  const b = await srv.joined('b', 'c-data');
  const c = await srv.joined('c', 'c-data');
  await a.client.request('send-data', { topic: 'chat', data: { text: 'hello' } });
  assert.equal(await b.client.next('data'), { from: a.id, topic: 'chat', data: { text: 'hello' } });
  assert.equal(await c.client.next('data'), { from: a.id, topic: 'chat', data: { text: 'hello' } });
  await a.client.request('send-data', { topic: 'reactions', data: '👍', to: c.id });
  assert.equal(await c.client.next('data'), { from: a.id, topic: 'reactions', data: '👍', to: c.id });
  const big = await a.client.request('send-data', { topic: 'chat', data: 'x'.repeat(17 * 1024) }).catch((e) => e);
  assert.equal([big.code, big.field], ['invalid_payload', 'payload.data']);
  const badTopic = await a.client.request('send-data', { topic: 'no spaces', data: 1 }).catch((e) => e);
  assert.is(badTopic.field, 'payload.topic');
  assert.is((await a.client.request('send-data', { topic: 't', data: 1, to: 'PA_nobody' }).catch((e) => e)).code, 'peer_not_found');
  // From the app's backend over REST.
  assert.is((await srv.api('POST', '/api/v1/rooms/c-data/data', { topic: 'system', data: { notice: 'closing soon' } })).status, 200);
  assert.equal(await a.client.next('data', (d) => d.topic === 'system'), { from: null, topic: 'system', data: { notice: 'closing soon' } });
  await sleep(50);
  assert.is(
    a.client.unread('data').length + b.client.unread('data').length,
    1,
    'the sender does not get its own; b got only the broadcasts',
  );
  for (const x of [a, b, c]) await x.client.close();
});

test('whiteboard: strokes are kept for late joiners (also across calls of a restarting node), a moderator clears', async ({ srv }) => {
  const s = await srv.joined('s', 'c-board');
  const v = await srv.joined('v', 'c-board', { role: 'viewer' });
  const first = await s.client.request('whiteboard-draw', {
    stroke: {
      tool: 'pen',
      points: [
        [1, 2],
        [3, 4],
      ],
    },
  });
  await s.client.request('whiteboard-draw', { stroke: { tool: 'text', text: 'hi' } });
  assert.equal((await v.client.next('whiteboard-stroke')).stroke, {
    tool: 'pen',
    points: [
      [1, 2],
      [3, 4],
    ],
  });
  const late = await srv.connect();
  await late.request('auth', { token: await srv.mint({ userId: 'late' }) });
  const joined = await late.request('join', { room: 'c-board' });
  assert.equal(
    joined.room_state.whiteboard!.map((w) => w.stroke['tool']),
    ['pen', 'text'],
  );
  assert.is(joined.room_state.whiteboard![0].stroke_id, first.stroke_id);
  const mod = await srv.joined('m', 'c-board', { role: 'moderator' });
  await mod.client.request('whiteboard-clear', {});
  assert.equal(await late.next('whiteboard-cleared'), { by: mod.id });
  assert.equal(srv.app.rooms.getRoom('c-board')!.whiteboard, []);
  const rows = await srv.app.db.query(`SELECT 1 FROM whiteboard_strokes WHERE room = 'c-board'`);
  assert.is(rows.length, 0);
  for (const x of [s.client, v.client, late, mod.client]) await x.close();
});

test('REST and WebSocket act on the same room in real time', async ({ srv }) => {
  const host = await srv.joined('h', 'c-rest', { role: 'host' });
  const v = await srv.joined('v', 'c-rest', { role: 'viewer' });
  const sp = await srv.joined('sp', 'c-rest', { role: 'speaker' });
  // REST raises a hand for v; the room hears it; WS acknowledges; REST sees it gone.
  assert.equal((await srv.api('POST', '/api/v1/rooms/c-rest/hands', { user_id: 'v' })).body, { position: 1 });
  assert.is((await host.client.next('hand-queue', (q) => q.hands.length === 1)).hands[0].participant_id, v.id);
  await host.client.request('acknowledge-hand', { user_id: 'v', promote: true });
  assert.equal((await srv.api('GET', '/api/v1/rooms/c-rest/hands')).body.hands, []);
  // REST sets a role, mutes, locks; clients hear each.
  assert.is((await srv.api('POST', `/api/v1/rooms/c-rest/participants/${sp.id}/role`, { role: 'viewer' })).status, 200);
  assert.equal(await sp.client.next('role-changed', (r) => r.role === 'viewer'), { participant_id: sp.id, role: 'viewer', by: null });
  assert.equal((await srv.api('POST', '/api/v1/rooms/c-rest/mute-all', {})).body, { muted: 2 });
  assert.equal(await v.client.next('participant-muted'), { participant_id: v.id, track: 'audio', by: null });
  await srv.api('POST', '/api/v1/rooms/c-rest/lock');
  assert.is((await v.client.next('room-updated')).settings.locked, true);
  // WebSocket changes are visible over REST.
  await host.client.request('update-room', { max_participants: 7, metadata: { course: 'math' } });
  const got = await srv.api('GET', '/api/v1/rooms/c-rest');
  assert.equal(
    [got.body.settings.max_participants, got.body.settings.locked, got.body.settings.metadata, got.body.num_participants],
    [7, true, { course: 'math' }, 3],
  );
  // Participants with entry/exit times and durations (billing); REST leave and kick.
  assert.is((await srv.api('DELETE', `/api/v1/rooms/c-rest/participants/${sp.id}`)).status, 200);
  assert.equal(await host.client.next('peer-left', (p) => p.participant_id === sp.id), { participant_id: sp.id, reason: 'removed' });
  assert.is((await srv.api('POST', `/api/v1/rooms/c-rest/participants/${v.id}/kick`, { reason: 'bye' })).status, 200);
  assert.is((await v.client.next('kicked')).reason, 'bye');
  const parts = await srv.api('GET', '/api/v1/rooms/c-rest/participants');
  assert.equal(
    parts.body.participants.map((p: { user_id: string }) => p.user_id),
    ['h'],
  );
  const byUser = Object.fromEntries(parts.body.history.map((p: { user_id: string }) => [p.user_id, p]));
  assert.equal([byUser.sp.leave_reason, byUser.v.leave_reason, byUser.h.left_at], ['removed', 'kicked', null]);
  assert.ok(byUser.sp.duration_seconds >= 0 && byUser.h.connected);
  // REST join returns a room-scoped token that works (the room is locked: a host token).
  const join = await srv.api('POST', '/api/v1/rooms/c-rest/join', { user_id: 'guest', role: 'host' });
  assert.is(join.status, 201);
  assert.match(join.body.ws_url, /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
  const guest = await srv.connect();
  await guest.request('auth', { token: join.body.token });
  assert.is((await guest.request('join', { room: 'c-rest' })).room_state.room, 'c-rest');
  assert.is((await guest.request('leave', {})) !== undefined, true);
  assert.is((await guest.request('join', { room: 'other' }).catch((e) => e)).code, 'unauthorized');
  // Errors: unknown room / participant, bad input, no API key.
  assert.is((await srv.api('GET', '/api/v1/rooms/nope-404')).status, 404);
  assert.is((await srv.api('POST', '/api/v1/rooms/c-rest/participants/PA_x/kick', {})).status, 404);
  assert.is((await srv.api('PATCH', '/api/v1/rooms/c-rest', { max_participants: 0 })).status, 400);
  assert.is((await srv.api('GET', '/api/v1/rooms', undefined, null)).status, 401);
  assert.is((await srv.api('POST', '/api/v1/rooms/nobody-here/end')).status, 404);
  // Listing and deletion: delete ends the call for everyone and keeps history.
  const list = await srv.api('GET', '/api/v1/rooms');
  assert.ok(list.body.rooms.some((r: { name: string }) => r.name === 'c-rest'));
  const callId = srv.app.rooms.getRoom('c-rest')!.callId;
  assert.is((await srv.api('DELETE', '/api/v1/rooms/c-rest')).status, 200);
  assert.is((await host.client.next('call-state-changed', (s) => s.state === 'ended')).reason, 'deleted');
  assert.is((await srv.api('GET', '/api/v1/rooms/c-rest')).status, 404);
  assert.is((await srv.api('GET', `/calls/${callId}`)).body.participants.length, 4);
  for (const x of [host.client, v.client, sp.client, guest]) await x.close();
});

test('REST end: the call ends for everyone, the room and its settings stay', async ({ srv }) => {
  await srv.api('POST', '/api/v1/rooms', { name: 'c-end', type: 'webinar' });
  const a = await srv.joined('a', 'c-end', { role: 'host' });
  const b = await srv.joined('b', 'c-end', { role: 'viewer' });
  assert.is((await srv.api('POST', '/api/v1/rooms/c-end/end')).status, 200);
  for (const x of [a, b]) assert.is((await x.client.next('call-state-changed', (s) => s.state === 'ended')).reason, 'ended-by-api');
  assert.is(srv.app.rooms.getRoom('c-end'), undefined);
  const got = await srv.api('GET', '/api/v1/rooms/c-end');
  assert.equal([got.status, got.body.settings.type, got.body.num_participants], [200, 'webinar', 0]);
  for (const x of [a, b]) await x.client.close();
});

test.run();
