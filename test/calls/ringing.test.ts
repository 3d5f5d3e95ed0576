// Calls over real sockets: ring, accept, decline, cancel, timeout (missed),
// busy, two devices of one callee, inviting into a running call, a direct call
// ending for both when one leaves, bad input, and the rows it all leaves in
// PostgreSQL (PGlite here) and the webhook outbox.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import { SignalingError } from '../../clients/node/signalingClient.js';
import { eventually, sleep } from '../support/net.js';
import { HookReceiver, webhookEnv } from '../support/recording.js';
import { startServer, type TestServer } from '../support/server.js';

const RING_SECONDS = 2;
const test = suite<{ srv: TestServer; hooks: HookReceiver }>('calls', {} as { srv: TestServer; hooks: HookReceiver });
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

/** The fields of call_ringing / call_missed webhooks the tests read. */
interface CallHook {
  event: string;
  call_id: string;
  user_id: string;
  devices?: number;
}

/** An authenticated connection of `userId`, not in any room: reachable for calls. */
async function device(srv: TestServer, userId: string, name = userId): Promise<SignalingClient> {
  const client = await srv.connect();
  await client.request('auth', { token: await srv.mint({ userId, name }) });
  return client;
}

async function refused(p: Promise<unknown>, code: string, field?: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, SignalingError);
    assert.is((err as SignalingError).code, code);
    if (field !== undefined) assert.is((err as SignalingError).field, field);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

async function callRow(srv: TestServer, callId: string) {
  const rows = await srv.app.db.query<{
    status: string;
    end_reason: string | null;
    call_type: string;
    initiator_id: string;
    media: string;
  }>('SELECT status, end_reason, call_type, initiator_id, media FROM calls WHERE id = $1', [callId]);
  return rows[0];
}

async function inviteeRows(srv: TestServer, callId: string) {
  return srv.app.db.query<{ user_id: string; status: string; answered_at: Date | null; ended_at: Date | null }>(
    'SELECT user_id, status, answered_at, ended_at FROM call_invitees WHERE call_id = $1 ORDER BY user_id',
    [callId],
  );
}

test('ring, accept on one device: the other device stops ringing, both talk, leaving ends it for both', async ({ srv }) => {
  const alice = await device(srv, 'alice', 'Alice');
  const bobPhone = await device(srv, 'bob');
  const bobLaptop = await device(srv, 'bob');

  const invite = await alice.request('call-invite', { to: ['bob'], media: 'video' });
  assert.is(invite.room, `call-${invite.call_id}`);
  assert.equal(invite.invited, ['bob']);
  assert.ok(invite.participant_id, 'the caller is in the call room');
  assert.is(invite.room_state?.call.state, 'ringing');
  assert.is((await callRow(srv, invite.call_id))?.status, 'ringing');

  const ringPhone = await bobPhone.next('call-incoming');
  const ringLaptop = await bobLaptop.next('call-incoming');
  assert.equal(ringPhone, ringLaptop);
  assert.is(ringPhone.call_id, invite.call_id);
  assert.equal(ringPhone.from, { user_id: 'alice', display_name: 'Alice' });
  assert.is(ringPhone.media, 'video');
  assert.is(ringPhone.busy, false);
  assert.ok(ringPhone.expires_at > Date.now(), 'expires in the future');

  const joined = await bobPhone.request('call-accept', { call_id: invite.call_id });
  assert.is(joined.room_state.room, invite.room);
  assert.equal(joined.room_state.participants.map((p) => p.user_id).sort(), ['alice', 'bob']);
  assert.equal(await bobLaptop.next('call-answered-elsewhere'), { call_id: invite.call_id });
  const accepted = await alice.next('call-accepted');
  assert.equal(accepted, { call_id: invite.call_id, by: { user_id: 'bob', display_name: 'bob' } });
  assert.is((await alice.next('call-state-changed')).state, 'active');
  await eventually(async () => (await callRow(srv, invite.call_id))?.status === 'active');

  // A second accept (the other device) is a conflict and changes nothing.
  await refused(bobLaptop.request('call-accept', { call_id: invite.call_id }), 'conflict');
  // Cancelling after the answer is a conflict too.
  await refused(alice.request('call-cancel', { call_id: invite.call_id }), 'conflict');

  await bobPhone.request('leave', {});
  assert.equal(await alice.next('call-ended'), { call_id: invite.call_id, reason: 'completed' });
  await eventually(async () => (await callRow(srv, invite.call_id))?.end_reason === 'completed');
  const row = await callRow(srv, invite.call_id);
  assert.equal(row, { status: 'ended', end_reason: 'completed', call_type: 'direct', initiator_id: 'alice', media: 'video' });
  const invitees = await inviteeRows(srv, invite.call_id);
  assert.is(invitees[0]?.status, 'accepted');
  assert.ok(invitees[0]?.answered_at, 'answered_at is set');
  // Alice's connection stays open and free: she can call again.
  const again = await alice.request('call-invite', { to: ['bob'], media: 'audio' });
  await alice.request('call-cancel', { call_id: again.call_id });
  await Promise.all([alice.close(), bobPhone.close(), bobLaptop.close()]);
});

test('decline: the caller hears who and why, is out of the room, and the call ends declined', async ({ srv }) => {
  const alice = await device(srv, 'alice2');
  const bob = await device(srv, 'bob2', 'Bob');
  const bobOther = await device(srv, 'bob2', 'Bob');
  const invite = await alice.request('call-invite', { to: ['bob2'], media: 'audio' });
  await bob.next('call-incoming');
  await bobOther.next('call-incoming');
  await bob.request('call-decline', { call_id: invite.call_id });
  assert.equal(await alice.next('call-declined'), {
    call_id: invite.call_id,
    by: { user_id: 'bob2', display_name: 'Bob' },
    reason: 'declined',
  });
  assert.equal(await alice.next('call-ended'), { call_id: invite.call_id, reason: 'declined' });
  assert.equal(await bobOther.next('call-ended'), { call_id: invite.call_id, reason: 'declined' });
  await eventually(async () => (await callRow(srv, invite.call_id))?.end_reason === 'declined');
  assert.is((await inviteeRows(srv, invite.call_id))[0]?.status, 'declined');
  // Out of the room: leave says so, and the connection takes a new call.
  await refused(alice.request('leave', {}), 'not_in_room');
  await refused(bob.request('call-decline', { call_id: invite.call_id }), 'not_found');
  await Promise.all([alice.close(), bob.close(), bobOther.close()]);
});

test('cancel: every ringing device hears call-cancelled; the call ends cancelled', async ({ srv }) => {
  const alice = await device(srv, 'alice3');
  const bob = await device(srv, 'bob3');
  const invite = await alice.request('call-invite', { to: ['bob3'], media: 'audio' });
  await bob.next('call-incoming');
  await refused(bob.request('call-cancel', { call_id: invite.call_id }), 'not_found'); // only the caller, from the call
  await alice.request('call-cancel', { call_id: invite.call_id });
  assert.equal(await bob.next('call-cancelled'), { call_id: invite.call_id });
  assert.equal(await alice.next('call-ended'), { call_id: invite.call_id, reason: 'cancelled' });
  await eventually(async () => (await callRow(srv, invite.call_id))?.end_reason === 'cancelled');
  assert.is((await inviteeRows(srv, invite.call_id))[0]?.status, 'cancelled');
  await refused(bob.request('call-accept', { call_id: invite.call_id }), 'not_found');
  await Promise.all([alice.close(), bob.close()]);
});

test('nobody answers: after CALL_RING_SECONDS the caller gets call-missed, the callee call-ended missed, webhooks say so', async ({
  srv,
  hooks,
}) => {
  const alice = await device(srv, 'alice4');
  const bob = await device(srv, 'bob4');
  const started = Date.now();
  // carol4 has no device at all: she rings out too.
  const invite = await alice.request('call-invite', { to: ['bob4', 'carol4'], media: 'audio' });
  const ring = await bob.next('call-incoming');
  assert.equal(ring.invited.sort(), ['bob4', 'carol4']);
  const missed = [await alice.next('call-missed', undefined, 10_000), await alice.next('call-missed', undefined, 10_000)]
    .map((m) => m.user_id)
    .sort();
  assert.equal(missed, ['bob4', 'carol4']);
  assert.ok(Date.now() - started >= RING_SECONDS * 1000 - 100, 'rang for CALL_RING_SECONDS');
  assert.equal(await bob.next('call-ended'), { call_id: invite.call_id, reason: 'missed' });
  assert.equal(await alice.next('call-ended'), { call_id: invite.call_id, reason: 'missed' });
  await eventually(async () => (await callRow(srv, invite.call_id))?.end_reason === 'missed');
  assert.equal(
    (await inviteeRows(srv, invite.call_id)).map((r) => r.status),
    ['missed', 'missed'],
  );
  assert.is((await callRow(srv, invite.call_id))?.call_type, 'group');
  // Delivered, signed webhooks: call_ringing (devices: 0 means "send a push") and call_missed per invitee.
  const delivered = () => hooks.events.filter((e) => e.room === invite.room).map((e) => e.body as unknown as CallHook);
  await eventually(() => delivered().filter((e) => e.event === 'call_missed').length === 2, 10_000, 'call_missed webhooks');
  const ringing = delivered()
    .filter((e) => e.event === 'call_ringing')
    .map((e) => [e.user_id, e.devices]);
  assert.equal(ringing.sort(), [
    ['bob4', 1],
    ['carol4', 0],
  ]);
  assert.equal(
    delivered()
      .filter((e) => e.event === 'call_missed')
      .map((e) => e.user_id)
      .sort(),
    ['bob4', 'carol4'],
  );
  assert.ok(delivered().every((e) => e.call_id === invite.call_id));
  await Promise.all([alice.close(), bob.close()]);
});

test('busy: a callee in another call still rings (busy: true) and may decline busy', async ({ srv }) => {
  const bob = await srv.joined('bob5', 'meeting-5');
  const bobPhone = await device(srv, 'bob5');
  const alice = await device(srv, 'alice5');
  const invite = await alice.request('call-invite', { to: ['bob5'], media: 'audio' });
  assert.is((await bobPhone.next('call-incoming')).busy, true);
  assert.is((await bob.client.next('call-incoming')).busy, true);
  // In a room, a callee must leave it before accepting.
  await refused(bob.client.request('call-accept', { call_id: invite.call_id }), 'already_in_room');
  await bobPhone.request('call-decline', { call_id: invite.call_id, reason: 'busy' });
  assert.is((await alice.next('call-declined')).reason, 'busy');
  assert.equal(await alice.next('call-ended'), { call_id: invite.call_id, reason: 'busy' });
  await Promise.all([alice.close(), bob.client.close(), bobPhone.close()]);
});

test('invite into a running call: it becomes a group call and leaving no longer ends it for the others', async ({ srv }) => {
  const alice = await device(srv, 'alice6');
  const bob = await device(srv, 'bob6');
  const carol = await device(srv, 'carol6');
  const invite = await alice.request('call-invite', { to: ['bob6'], media: 'video' });
  await bob.next('call-incoming');
  await bob.request('call-accept', { call_id: invite.call_id });
  await alice.next('call-accepted');
  // Only someone in the call may invite into it.
  await refused(carol.request('call-invite', { to: ['dave6'], media: 'video', call_id: invite.call_id }), 'not_found', 'call_id');
  const more = await bob.request('call-invite', { to: ['carol6', 'alice6'], media: 'video', call_id: invite.call_id });
  assert.equal(more.invited, ['carol6']); // alice is in it already
  const ring = await carol.next('call-incoming');
  assert.is(ring.call_id, invite.call_id);
  await carol.request('call-accept', { call_id: invite.call_id });
  assert.is((await alice.next('call-accepted')).by.user_id, 'carol6');
  await eventually(async () => (await callRow(srv, invite.call_id))?.call_type === 'group');
  await alice.request('leave', {});
  await sleep(200);
  assert.is((await callRow(srv, invite.call_id))?.status, 'active', 'the group call goes on');
  await bob.request('leave', {});
  await carol.request('leave', {});
  await eventually(async () => (await callRow(srv, invite.call_id))?.end_reason === 'completed');
  await Promise.all([alice.close(), bob.close(), carol.close()]);
});

test('the caller hanging up while it rings cancels it', async ({ srv }) => {
  const alice = await device(srv, 'alice7');
  const bob = await device(srv, 'bob7');
  const invite = await alice.request('call-invite', { to: ['bob7'], media: 'audio' });
  await bob.next('call-incoming');
  await alice.request('leave', {});
  assert.equal(await bob.next('call-cancelled'), { call_id: invite.call_id });
  await eventually(async () => (await callRow(srv, invite.call_id))?.end_reason === 'cancelled');
  await Promise.all([alice.close(), bob.close()]);
});

test('bad input: each its documented code, and nothing rings', async ({ srv }) => {
  const alice = await device(srv, 'alice8');
  const bob = await device(srv, 'bob8');
  await refused(alice.request('call-invite', { to: ['alice8'], media: 'audio' }), 'invalid_payload', 'to');
  await refused(alice.request('call-invite', { to: [], media: 'audio' }), 'invalid_payload');
  await refused(alice.request('call-accept', { call_id: '00000000-0000-4000-8000-000000000000' }), 'not_found');
  await refused(alice.request('call-accept', { call_id: 'not-a-uuid' }), 'invalid_payload', 'payload.call_id');
  // A call for bob is not alice's to accept or decline.
  const carol = await device(srv, 'carol8');
  const invite = await carol.request('call-invite', { to: ['bob8'], media: 'audio' });
  await refused(alice.request('call-accept', { call_id: invite.call_id }), 'not_found');
  await refused(alice.request('call-decline', { call_id: invite.call_id }), 'not_found');
  // A connection in a room cannot start another call.
  await refused(carol.request('call-invite', { to: ['bob8'], media: 'audio' }), 'already_in_room');
  await carol.request('call-cancel', { call_id: invite.call_id });
  // A token bound to one room cannot place calls.
  const bound = await srv.connect();
  await bound.request('auth', { token: await srv.mint({ userId: 'dan8', room: 'only-this' }) });
  await refused(bound.request('call-invite', { to: ['bob8'], media: 'audio' }), 'unauthorized');
  // Nothing but carol's (cancelled) invite rang bob.
  assert.is((await bob.next('call-incoming')).call_id, invite.call_id);
  assert.equal(await bob.next('call-cancelled'), { call_id: invite.call_id });
  await sleep(100);
  assert.is(bob.unread('call-incoming').length, 0);
  await Promise.all([alice.close(), bob.close(), carol.close(), bound.close()]);
});

test('a token with a may_call claim rings only those users; without ICE servers call-incoming carries none', async ({ srv }) => {
  const bob = await device(srv, 'bob9');
  const limited = await srv.connect();
  await limited.request('auth', { token: await srv.mint({ userId: 'kiosk9', mayCall: ['bob9'] }) });
  await refused(limited.request('call-invite', { to: ['bob9', 'carol9'], media: 'audio' }), 'forbidden', 'to');
  const invite = await limited.request('call-invite', { to: ['bob9'], media: 'audio' });
  const ring = await bob.next('call-incoming');
  assert.is(ring.call_id, invite.call_id);
  assert.is(ring.ice_servers, undefined);
  // Inviting more people into the call is held to the same claim.
  await refused(limited.request('call-invite', { to: ['carol9'], media: 'audio', call_id: invite.call_id }), 'forbidden', 'to');
  await limited.request('call-cancel', { call_id: invite.call_id });
  // A malformed claim is refused at auth.
  const bad = await srv.connect();
  await refused(bad.request('auth', { token: await srv.mint({ userId: 'x9', mayCall: ['ok', ''] }) }), 'unauthorized');
  await Promise.all([bob.close(), limited.close(), bad.close().catch(() => undefined)]);
});

test.run();
