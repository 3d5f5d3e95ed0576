// Deafen and reactions over real sockets: deafen/undeafen reach the others and
// stay in the room state a late joiner gets; a reaction reaches everyone (the
// sender too), is rate limited per participant, and a bad one is refused
// with nothing sent.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LIVE_REACTIONS } from '../../signaling/protocol/protocol.js';
import { REACTION_BURST } from '../../server/domain/rooms/peerSignals.js';
import { eventually } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

const test = suite<{ srv: TestServer }>('deafen and reactions', {} as { srv: TestServer });
test.before(async (ctx) => {
  ctx.srv = await startServer();
});
test.after(async (ctx) => ctx.srv.stop());

test('deafen: the others see it, a late joiner finds it in room_state, undeafen clears it', async ({ srv }) => {
  const a = await srv.joined('ann', 'd-deafen');
  const b = await srv.joined('bob', 'd-deafen', { role: 'viewer' });
  const joinedA = await a.client.next('peer-joined');
  assert.is(joinedA.participant.deafened, false, 'nobody starts deafened');

  await a.client.request('deafen', {});
  assert.equal(await b.client.next('deafen'), { from: a.id });
  assert.is(a.client.unread('deafen').length, 0, 'the sender does not get its own deafen back');
  // Deafen is not mute: nothing else about ann changed.
  const inRoom = srv.app.rooms
    .getRoom('d-deafen')!
    .state()
    .participants.find((p) => p.participant_id === a.id)!;
  assert.equal([inRoom.deafened, inRoom.audio_muted, inRoom.video_muted], [true, false, false]);

  const late = await srv.connect();
  await late.request('auth', { token: await srv.mint({ userId: 'cat' }) });
  const joined = await late.request('join', { room: 'd-deafen' });
  const seen = joined.room_state.participants.find((p) => p.participant_id === a.id)!;
  assert.is(seen.deafened, true, 'a late joiner sees ann deafened');
  assert.is(joined.room_state.participants.find((p) => p.participant_id === b.id)!.deafened, false);

  await a.client.request('undeafen', {});
  assert.equal(await b.client.next('undeafen'), { from: a.id });
  assert.equal(await late.next('undeafen'), { from: a.id });
  assert.is(
    srv.app.rooms
      .getRoom('d-deafen')!
      .state()
      .participants.find((p) => p.participant_id === a.id)!.deafened,
    false,
  );

  // Outside a room: refused.
  const lone = await srv.connect();
  await lone.request('auth', { token: await srv.mint({ userId: 'dan' }) });
  assert.is((await lone.request('deafen', {}).catch((e: { code: string }) => e)).code, 'not_in_room');
  for (const x of [a.client, b.client, late, lone]) await x.close();
});

test('react: everyone in the room gets it (the sender too), viewers may react, other rooms hear nothing', async ({ srv }) => {
  const a = await srv.joined('ann', 'd-react');
  const v = await srv.joined('vic', 'd-react', { role: 'viewer' });
  const elsewhere = await srv.joined('eve', 'd-react-other');
  for (const reaction of LIVE_REACTIONS.slice(0, 3)) await a.client.request('react', { reaction });
  for (const reaction of LIVE_REACTIONS.slice(0, 3)) {
    assert.equal(await v.client.next('reaction'), { participant_id: a.id, reaction });
    assert.equal(await a.client.next('reaction'), { participant_id: a.id, reaction });
  }
  await v.client.request('react', { reaction: 'clap' });
  assert.equal(await a.client.next('reaction'), { participant_id: v.id, reaction: 'clap' });
  assert.equal(await v.client.next('reaction'), { participant_id: v.id, reaction: 'clap' });
  assert.is(elsewhere.client.unread('reaction').length, 0, 'rooms are isolated');
  for (const x of [a, v, elsewhere]) await x.client.close();
});

test('react: an unknown or missing reaction is invalid_payload and nothing is sent', async ({ srv }) => {
  const a = await srv.joined('ann', 'd-bad');
  const b = await srv.joined('bob', 'd-bad');
  const bad = await a.client.request('react', { reaction: 'poop' } as never).catch((e: { code: string; field?: string }) => e);
  assert.equal([bad.code, bad.field], ['invalid_payload', 'payload.reaction']);
  const missing = await a.client.request('react', {} as never).catch((e: { code: string }) => e);
  assert.is(missing.code, 'invalid_payload');
  // A good one afterwards is the first (and only) reaction b sees.
  await a.client.request('react', { reaction: 'wow' });
  assert.equal(await b.client.next('reaction'), { participant_id: a.id, reaction: 'wow' });
  assert.is(b.client.unread('reaction').length, 0, 'the refused reactions reached nobody');
  for (const x of [a, b]) await x.client.close();
});

test('react: beyond the burst a participant gets rate_limited and nothing more is sent; others keep their own budget', async ({ srv }) => {
  const a = await srv.joined('ann', 'd-flood');
  const b = await srv.joined('bob', 'd-flood');
  const tries = REACTION_BURST + 6;
  const outcomes = await Promise.all(
    Array.from({ length: tries }, () =>
      a.client.request('react', { reaction: 'fire' }).then(
        () => 'ok',
        (e: { code: string }) => e.code,
      ),
    ),
  );
  const ok = outcomes.filter((o) => o === 'ok').length;
  assert.ok(ok >= REACTION_BURST && ok < tries, `${ok} of ${tries} passed`);
  assert.ok(
    outcomes.every((o) => o === 'ok' || o === 'rate_limited'),
    outcomes.join(),
  );
  // b receives exactly the ones that passed.
  await eventually(() => b.client.unread('reaction').length >= ok, 5000, 'reactions delivered');
  assert.is(b.client.unread('reaction').length, ok);
  // b's own budget is untouched.
  await b.client.request('react', { reaction: 'heart' });
  assert.equal(await a.client.next('reaction', (r) => r.participant_id === b.id), { participant_id: b.id, reaction: 'heart' });
  for (const x of [a, b]) await x.client.close();
});

test.run();
