// Roles and moderation against real media: real mediasoup, real WebRTC peers
// (MediaBot). Demotion closes producers; promotion lets a viewer publish at
// once; a moderator's mute pauses the producer on the server.

import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import type { Role } from '../../signaling/protocol/protocol.js';
import { mediaBotSuite, type BotCtx } from '../support/bots.js';

const test = mediaBotSuite('room control with media');

async function bot(ctx: BotCtx, user: string, room: string, role: Role) {
  const b = await MediaBot.join(ctx.srv.url, await ctx.srv.mint({ userId: user, role }), room);
  ctx.bots.push(b);
  return b;
}

test('a demoted speaker loses its producers; a promoted viewer publishes at once', async (ctx) => {
  const host = await bot(ctx, 'host', 'rm-roles', 'host');
  const speaker = await bot(ctx, 'spk', 'rm-roles', 'speaker');
  const viewer = await bot(ctx, 'vw', 'rm-roles', 'viewer');
  const audio = await speaker.publishAudio();
  await host.signaling.next('producer-added', (p) => p.producer_id === audio.id, 10_000);

  await host.signaling.request('set-role', { participant_id: speaker.participantId, role: 'viewer' });
  assert.equal(await host.signaling.next('producer-removed', (p) => p.producer_id === audio.id, 10_000), {
    producer_id: audio.id,
    participant_id: speaker.participantId,
  });
  assert.equal(
    ctx.srv.app.rooms
      .getRoom('rm-roles')!
      .media!.producerList()
      .filter((p) => p.participant_id === speaker.participantId),
    [],
  );
  assert.is((await speaker.signaling.next('role-changed')).role, 'viewer');
  // Now a viewer: publishing is refused by the server.
  const refused = await speaker.signaling
    .request('produce', {
      transport_id: 'x',
      kind: 'audio',
      rtp_parameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] },
      source: 'mic',
    })
    .catch((e) => e);
  assert.is(refused.code, 'forbidden');

  // The viewer raises a hand; the host acknowledges with promotion; it publishes right away.
  await viewer.signaling.request('raise-hand', {});
  await host.signaling.request('acknowledge-hand', { promote: true });
  assert.is((await viewer.signaling.next('role-changed', (r) => r.participant_id === viewer.participantId)).role, 'speaker');
  const video = await viewer.publishVideo();
  const added = await host.signaling.next('producer-added', (p) => p.producer_id === video.id, 10_000);
  assert.is(added.participant_id, viewer.participantId);
  const received = await host.consume(video.id);
  assert.ok(received.consumer.id);
});

test('a moderator mute pauses the producer server-side and tells the participant; they may unmute themselves', async (ctx) => {
  const mod = await bot(ctx, 'mod', 'rm-mute', 'moderator');
  const spk = await bot(ctx, 'spk', 'rm-mute', 'speaker');
  const audio = await spk.publishAudio();
  await mod.signaling.next('producer-added', (p) => p.producer_id === audio.id, 10_000);
  await mod.signaling.request('mute-participant', { participant_id: spk.participantId, track: 'audio' });
  assert.equal(await spk.signaling.next('participant-muted'), { participant_id: spk.participantId, track: 'audio', by: mod.participantId });
  await mod.signaling.next('producer-paused', (p) => p.producer_id === audio.id);
  assert.is(
    ctx.srv.app.rooms
      .getRoom('rm-mute')!
      .media!.producerList()
      .find((p) => p.producer_id === audio.id)!.paused,
    true,
  );
  // Speakers may unmute themselves.
  await spk.signaling.request('unmute', { track: 'audio' });
  await spk.signaling.request('resume-producer', { producer_id: audio.id });
  await mod.signaling.next('producer-resumed', (p) => p.producer_id === audio.id);
  // mute-all spares staff.
  const other = await bot(ctx, 'mod2', 'rm-mute', 'moderator');
  const modAudio = await other.publishAudio();
  await mod.signaling.next('producer-added', (p) => p.producer_id === modAudio.id, 10_000);
  assert.equal(await mod.signaling.request('mute-all', {}), { muted: 1 });
  await mod.signaling.next('producer-paused', (p) => p.producer_id === audio.id);
  const list = ctx.srv.app.rooms.getRoom('rm-mute')!.media!.producerList();
  assert.is(list.find((p) => p.producer_id === modAudio.id)!.paused, false);
});

test.run();
