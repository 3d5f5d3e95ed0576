// REST calls (/api/v1/calls) over a real server and real sockets: click-to-call
// rings a device that accepts, the caller's app joins the room by name and
// they talk; call history for both sides with durations and paging; ending a
// ringing and an active call; bad input.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import { SignalingError } from '../../clients/node/signalingClient.js';
import { eventually, sleep } from '../support/net.js';
import { HookReceiver, webhookEnv } from '../support/recording.js';
import { startServer, type TestServer } from '../support/server.js';

const RING_SECONDS = 3;
const test = suite<{ srv: TestServer; hooks: HookReceiver }>('rest calls', {} as { srv: TestServer; hooks: HookReceiver });
test.before(async (ctx) => {
  ctx.hooks = await new HookReceiver().start();
  ctx.srv = await startServer({
    env: { CALL_RING_SECONDS: String(RING_SECONDS), CALL_INVITES_PER_MINUTE: '600', ...webhookEnv(ctx.hooks) },
  });
});
test.after(async (ctx) => {
  await ctx.srv.stop();
  await ctx.hooks.stop();
});

/** An authenticated connection of `userId`, not in any room: reachable for calls. */
async function device(srv: TestServer, userId: string): Promise<SignalingClient> {
  const client = await srv.connect();
  await client.request('auth', { token: await srv.mint({ userId }) });
  return client;
}

/** The caller's app: a token from POST /auth/token for the call's room, then `join` by its name. */
async function callerJoins(srv: TestServer, userId: string, room: string) {
  const minted = await srv.api('POST', '/auth/token', { user_id: userId, name: userId, room, role: 'host' });
  assert.is(minted.status, 201);
  const client = await srv.connect();
  await client.request('auth', { token: minted.body.token });
  const joined = await client.request('join', { room });
  return { client, joined };
}

async function refused(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(err, SignalingError, `expected ${code}`);
  assert.is((err as SignalingError).code, code);
}

async function history(srv: TestServer, query: string) {
  const res = await srv.api('GET', `/api/v1/calls?${query}`);
  assert.is(res.status, 200, JSON.stringify(res.body));
  return res.body as {
    calls: Array<{
      call_id: string;
      room: string;
      call_type: string;
      media: string;
      status: string;
      end_reason: string | null;
      initiator_id: string;
      started_at: string | null;
      ended_at: string | null;
      duration_seconds: number | null;
      invitees: Array<{ user_id: string; status: string; invited_at: string; answered_at: string | null; ended_at: string | null }>;
      participants: Array<{ user_id: string; joined_at: string; left_at: string | null; duration_seconds: number }>;
    }>;
    next_before: string | null;
  };
}

test('click-to-call rings the device; it accepts, the caller joins the room by name and they talk; history for both', async ({
  srv,
  hooks,
}) => {
  const bob = await device(srv, 'r-bob');
  const res = await srv.api('POST', '/api/v1/calls', {
    from: { user_id: 'r-alice', display_name: 'Alice' },
    to: ['r-bob'],
    media: 'video',
    metadata: { order: 42 },
  });
  assert.is(res.status, 201, JSON.stringify(res.body));
  const { call_id, room, invited, expires_at } = res.body;
  assert.is(room, `call-${call_id}`);
  assert.equal(invited, ['r-bob']);
  const expires = Date.parse(expires_at);
  assert.ok(expires > Date.now() && expires <= Date.now() + RING_SECONDS * 1000 + 100, 'expires_at is CALL_RING_SECONDS ahead');

  const ring = await bob.next('call-incoming');
  assert.is(ring.call_id, call_id);
  assert.equal(ring.from, { user_id: 'r-alice', display_name: 'Alice' });
  assert.is(ring.media, 'video');
  assert.is(ring.expires_at, expires);
  // The call_ringing webhook goes out as for a call-invite.
  await eventually(() => hooks.events.some((e) => e.room === room && e.body['event'] === 'call_ringing'), 5000, 'call_ringing');

  const accepted = await bob.request('call-accept', { call_id });
  assert.is(accepted.room_state.room, room);
  assert.equal(
    accepted.room_state.participants.map((p) => p.user_id),
    ['r-bob'],
    'nobody else is in the room yet',
  );

  const alice = await callerJoins(srv, 'r-alice', room);
  assert.equal(alice.joined.room_state.participants.map((p) => p.user_id).sort(), ['r-alice', 'r-bob']);
  assert.is((await bob.next('call-state-changed')).state, 'active');
  const bobPeer = await alice.client
    .request('offer', { to: accepted.participant_id, sdp: 'v=0 offer' })
    .then(() => accepted.participant_id);
  assert.equal(await bob.next('offer'), { to: bobPeer, sdp: 'v=0 offer', from: alice.joined.participant_id });
  await bob.request('answer', { to: alice.joined.participant_id, sdp: 'v=0 answer' });
  assert.is((await alice.client.next('answer')).sdp, 'v=0 answer');

  // While active: both see it, the duration counts up to now.
  await sleep(1100);
  for (const user of ['r-alice', 'r-bob']) {
    const page = await history(srv, `user=${user}`);
    assert.is(page.calls.length, 1);
    const call = page.calls[0];
    assert.is(call.call_id, call_id);
    assert.is(call.status, 'active');
    assert.is(call.initiator_id, 'r-alice');
    assert.is(call.call_type, 'direct');
    assert.is(call.media, 'video');
    assert.ok(call.started_at, 'started');
    assert.ok((call.duration_seconds ?? -1) >= 1, 'counted up to now');
    assert.equal(
      call.invitees.map((i) => [i.user_id, i.status, i.answered_at !== null]),
      [['r-bob', 'accepted', true]],
    );
    assert.equal(call.participants.map((p) => [p.user_id, p.left_at]).sort(), [
      ['r-alice', null],
      ['r-bob', null],
    ]);
    assert.is(page.next_before, null);
  }

  // Bob hangs up: a direct call ends for both.
  await bob.request('leave', {});
  assert.equal(await alice.client.next('call-ended'), { call_id, reason: 'completed' });
  await eventually(async () => (await history(srv, 'user=r-bob')).calls[0]?.status === 'ended');
  const ended = (await history(srv, 'user=r-alice')).calls[0];
  assert.is(ended.end_reason, 'completed');
  assert.ok(ended.ended_at, 'ended');
  assert.ok((ended.duration_seconds ?? -1) >= 1, 'duration from started_at to ended_at');
  assert.ok(ended.participants.every((p) => p.left_at !== null && p.duration_seconds >= 1));
  await sleep(1100);
  assert.is((await history(srv, 'user=r-alice')).calls[0]?.duration_seconds, ended.duration_seconds, 'an ended call stops counting');
  await Promise.all([alice.client.close(), bob.close()]);
});

test('history pages newest first with before; never-answered calls have no duration', async ({ srv }) => {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await srv.api('POST', '/api/v1/calls', { from: { user_id: 'p-caller' }, to: ['p-callee', 'p-other'], media: 'audio' });
    assert.is(res.status, 201);
    ids.push(res.body.call_id);
    assert.is((await srv.api('POST', `/api/v1/calls/${res.body.call_id}/end`)).status, 200);
  }
  const newestFirst = [...ids].reverse();
  const first = await history(srv, 'user=p-callee&limit=2');
  assert.equal(
    first.calls.map((c) => c.call_id),
    newestFirst.slice(0, 2),
  );
  assert.ok(first.next_before, 'more to read');
  const second = await history(srv, `user=p-callee&limit=2&before=${encodeURIComponent(first.next_before)}`);
  assert.equal(
    second.calls.map((c) => c.call_id),
    newestFirst.slice(2),
  );
  assert.is(second.next_before, null);
  // The initiator's view: the same calls, each with both invitees cancelled, a group call never active.
  const caller = await history(srv, 'user=p-caller');
  assert.equal(
    caller.calls.map((c) => c.call_id),
    newestFirst,
  );
  for (const call of caller.calls) {
    assert.is(call.call_type, 'group');
    assert.is(call.end_reason, 'cancelled');
    assert.is(call.started_at, null);
    assert.is(call.duration_seconds, null);
    assert.equal(call.participants, []);
    assert.equal(
      call.invitees.map((i) => [i.user_id, i.status]),
      [
        ['p-callee', 'cancelled'],
        ['p-other', 'cancelled'],
      ],
    );
  }
  assert.equal((await history(srv, 'user=p-nobody')).calls, []);
});

test('ending a ringing call: devices hear call-cancelled, the room call-ended; it ends cancelled; a second end is 404', async ({ srv }) => {
  const bob = await device(srv, 'e-bob');
  const { body } = await srv.api('POST', '/api/v1/calls', { from: { user_id: 'e-alice' }, to: ['e-bob'], media: 'audio' });
  await bob.next('call-incoming');
  // The caller's app is in the room, waiting for an answer.
  const alice = await callerJoins(srv, 'e-alice', body.room);
  const res = await srv.api('POST', `/api/v1/calls/${body.call_id}/end`);
  assert.is(res.status, 200, JSON.stringify(res.body));
  assert.is(res.body.call_id, body.call_id);
  assert.is(res.body.status, 'ended');
  assert.is(res.body.end_reason, 'cancelled');
  assert.equal(
    res.body.invitees.map((i: { user_id: string; status: string }) => [i.user_id, i.status]),
    [['e-bob', 'cancelled']],
  );
  assert.equal(await bob.next('call-cancelled'), { call_id: body.call_id });
  assert.equal(await alice.client.next('call-ended'), { call_id: body.call_id, reason: 'cancelled' });
  await refused(alice.client.request('leave', {}), 'not_in_room');
  await refused(bob.request('call-accept', { call_id: body.call_id }), 'not_found');
  const again = await srv.api('POST', `/api/v1/calls/${body.call_id}/end`);
  assert.is(again.status, 404);
  assert.is(again.body.error.code, 'not_found');
  await Promise.all([alice.client.close(), bob.close()]);
});

test('ending an active call: everyone in the room hears call-ended and is out of it; it ends completed', async ({ srv }) => {
  const bob = await device(srv, 'a-bob');
  const carol = await device(srv, 'a-carol');
  const { body } = await srv.api('POST', '/api/v1/calls', { from: { user_id: 'a-alice' }, to: ['a-bob', 'a-carol'], media: 'video' });
  await bob.next('call-incoming');
  await carol.next('call-incoming');
  const accepted = await bob.request('call-accept', { call_id: body.call_id });
  assert.is(accepted.room_state.room, body.room);
  const alice = await callerJoins(srv, 'a-alice', body.room);
  const res = await srv.api('POST', `/api/v1/calls/${body.call_id}/end`);
  assert.is(res.status, 200, JSON.stringify(res.body));
  assert.is(res.body.end_reason, 'completed');
  assert.equal(
    res.body.invitees.map((i: { user_id: string; status: string }) => [i.user_id, i.status]),
    [
      ['a-bob', 'accepted'],
      ['a-carol', 'cancelled'],
    ],
  );
  assert.ok(
    res.body.participants.every((p: { left_at: string | null }) => p.left_at !== null),
    'everyone left',
  );
  assert.ok(res.body.duration_seconds !== null, 'it was active');
  assert.equal(await bob.next('call-ended'), { call_id: body.call_id, reason: 'completed' });
  assert.equal(await alice.client.next('call-ended'), { call_id: body.call_id, reason: 'completed' });
  assert.equal(await carol.next('call-cancelled'), { call_id: body.call_id });
  await refused(bob.request('leave', {}), 'not_in_room');
  await refused(alice.client.request('leave', {}), 'not_in_room');
  assert.is((await srv.api('POST', `/api/v1/calls/${body.call_id}/end`)).status, 404);
  await Promise.all([alice.client.close(), bob.close(), carol.close()]);
});

test('bad input: each its documented code, and nothing rings', async ({ srv }) => {
  const bob = await device(srv, 'b-bob');
  const call = { from: { user_id: 'b-alice' }, to: ['b-bob'], media: 'audio' };
  const missingKey = await srv.api('POST', '/api/v1/calls', call, null);
  assert.is(missingKey.status, 401);
  assert.is(missingKey.body.error.code, 'unauthenticated');
  assert.is((await srv.api('GET', '/api/v1/calls?user=b-bob', undefined, null)).status, 401);
  assert.is((await srv.api('POST', '/api/v1/calls/00000000-0000-4000-8000-000000000000/end', undefined, null)).status, 401);

  const cases: Array<[unknown, string]> = [
    [{ ...call, to: ['b-alice'] }, 'to'],
    [{ ...call, to: ['b-bob', 'b-alice'] }, 'to'],
    [{ ...call, to: [] }, 'to'],
    [{ ...call, media: 'fax' }, 'media'],
    [{ to: ['b-bob'], media: 'audio' }, 'from'],
    [{ ...call, from: { user_id: '' } }, 'from.user_id'],
  ];
  for (const [body, field] of cases) {
    const res = await srv.api('POST', '/api/v1/calls', body);
    assert.is(res.status, 400, JSON.stringify(body));
    assert.is(res.body.error.code, 'invalid_payload');
    assert.is(res.body.error.field, field, JSON.stringify(res.body));
  }

  for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-call']) {
    const res = await srv.api('POST', `/api/v1/calls/${id}/end`);
    assert.is(res.status, 404);
    assert.is(res.body.error.code, 'not_found');
  }

  for (const [query, field] of [
    ['user=b-bob&limit=0', 'limit'],
    ['user=b-bob&limit=101', 'limit'],
    ['user=b-bob&limit=ten', 'limit'],
    ['limit=5', 'user'],
    ['user=b-bob&before=yesterday', 'before'],
    ['user=b-bob&before=2025-02-30T00:00:00Z', 'before'],
  ]) {
    const res = await srv.api('GET', `/api/v1/calls?${query}`);
    assert.is(res.status, 400, query);
    assert.is(res.body.error.field, field, query);
  }
  assert.is((await srv.api('GET', '/api/v1/calls?user=b-bob&limit=100&before=2099-01-01T00:00:00.123456Z')).status, 200);

  await sleep(100);
  assert.is(bob.unread('call-incoming').length, 0, 'nothing rang');
  await bob.close();
});

test('the per-user invite limit applies to from.user_id', async () => {
  const srv = await startServer({ env: { CALL_INVITES_PER_MINUTE: '2' } });
  try {
    const call = { from: { user_id: 'l-alice' }, to: ['l-bob'], media: 'audio' };
    assert.is((await srv.api('POST', '/api/v1/calls', call)).status, 201);
    assert.is((await srv.api('POST', '/api/v1/calls', call)).status, 201);
    const limited = await srv.api('POST', '/api/v1/calls', call);
    assert.is(limited.status, 429);
    assert.is(limited.body.error.code, 'rate_limited');
    // Another caller has its own limit.
    assert.is((await srv.api('POST', '/api/v1/calls', { ...call, from: { user_id: 'l-carol' } })).status, 201);
  } finally {
    await srv.stop();
  }
});

test.run();
