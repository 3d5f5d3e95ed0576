// Real WebRTC peers (libwebrtc via @roamhq/wrtc + mediasoup-client) publish and
// subscribe through the server's own SFU.

import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { eventually, sleep } from '../support/net.js';
import { mediaBotSuite, type BotCtx } from '../support/bots.js';

const test = mediaBotSuite('sfu media', 2);

async function bot(ctx: BotCtx, user: string, room: string, role: 'host' | 'speaker' | 'viewer' = 'speaker') {
  const b = await MediaBot.join(ctx.srv.url, await ctx.srv.mint({ userId: user, role }), room);
  ctx.bots.push(b);
  return b;
}

test('a publisher reaches a subscriber: video frames and audio decoded', async (ctx) => {
  const pub = await bot(ctx, 'pub', 'm-basic');
  const sub = await bot(ctx, 'sub', 'm-basic');
  const video = await pub.publishVideo();
  const audio = await pub.publishAudio();
  const added = [await sub.signaling.next('producer-added'), await sub.signaling.next('producer-added')];
  assert.equal(added.map((p) => p.source).sort(), ['camera', 'mic']);
  assert.ok(added.every((p) => p.participant_id === pub.participantId));
  const v = await sub.consume(video.id);
  const a = await sub.consume(audio.id);
  await eventually(() => v.frames >= 10 && a.frames >= 50, 15_000, 'decoded media');
  assert.is(v.lastWidth, 640);
  // A late joiner sees the producers in room_state.
  const late = await bot(ctx, 'late', 'm-basic');
  assert.equal(late.roomProducers.map((p) => p.producer_id).sort(), [video.id, audio.id].sort());
});

test('a viewer cannot produce (forbidden) but can subscribe', async (ctx) => {
  const pub = await bot(ctx, 'pub', 'm-viewer');
  const viewer = await bot(ctx, 'viewer', 'm-viewer', 'viewer');
  const err = await viewer.publishVideo().catch((e) => e);
  assert.match(String(err?.message ?? err), /forbidden/);
  assert.is(ctx.srv.app.rooms.getRoom('m-viewer')!.media!.producerList().length, 0);
  const video = await pub.publishVideo();
  const v = await viewer.consume(video.id);
  await eventually(() => v.frames >= 5, 15_000, 'viewer decodes');
});

test('closing a producer reaches subscribers (producer-removed, consumer-closed)', async (ctx) => {
  const pub = await bot(ctx, 'pub', 'm-close');
  const sub = await bot(ctx, 'sub', 'm-close');
  const video = await pub.publishVideo();
  const v = await sub.consume(video.id);
  await eventually(() => v.frames >= 3, 15_000, 'frames before close');
  await pub.signaling.request('close-producer', { producer_id: video.id });
  video.close();
  assert.equal(await sub.signaling.next('producer-removed'), { producer_id: video.id, participant_id: pub.participantId });
  assert.is((await sub.signaling.next('consumer-closed')).consumer_id, v.consumer.id);
});

test('simulcast: preferred layers switch what the subscriber decodes', async (ctx) => {
  const pub = await bot(ctx, 'pub', 'm-simulcast');
  const sub = await bot(ctx, 'sub', 'm-simulcast');
  const video = await pub.publishVideo({ width: 1280, height: 720, simulcast: true });
  const v = await sub.consume(video.id);
  assert.is(v.consumer.rtpParameters.encodings?.length, 1);
  await sub.signaling.request('set-consumer-layers', { consumer_id: v.consumer.id, spatial_layer: 0 });
  await eventually(() => v.frames > 5 && v.lastWidth === 320, 20_000, 'lowest layer (320 wide)');
  await sub.signaling.request('set-consumer-layers', { consumer_id: v.consumer.id, spatial_layer: 1 });
  await eventually(() => v.lastWidth === 640, 20_000, 'middle layer (640 wide)');
  const changed = await sub.signaling.next('consumer-layers-changed', (l) => l.spatial_layer === 1, 5000);
  assert.is(changed.consumer_id, v.consumer.id);
});

test('mute pauses the producer on the server; unmute resumes it', async (ctx) => {
  const pub = await bot(ctx, 'pub', 'm-mute');
  const sub = await bot(ctx, 'sub', 'm-mute');
  const audio = await pub.publishAudio();
  const a = await sub.consume(audio.id);
  await eventually(() => a.frames > 20, 15_000, 'audio flowing');
  await pub.signaling.request('mute', { track: 'audio' });
  await sub.signaling.next('consumer-paused');
  const media = ctx.srv.app.rooms.getRoom('m-mute')!.media!;
  assert.ok(media.producerList().find((p) => p.producer_id === audio.id)!.paused);
  const stats = await pub.signaling.request('get-stats', { producer_id: audio.id });
  assert.ok(Array.isArray(stats.stats));
  await pub.signaling.request('unmute', { track: 'audio' });
  await sub.signaling.next('consumer-resumed');
  assert.not.ok(media.producerList().find((p) => p.producer_id === audio.id)!.paused);
});

test('ICE restart returns new ICE parameters and media keeps flowing', async (ctx) => {
  const pub = await bot(ctx, 'pub', 'm-ice');
  const sub = await bot(ctx, 'sub', 'm-ice');
  const video = await pub.publishVideo();
  const v = await sub.consume(video.id);
  await eventually(() => v.frames >= 3, 15_000, 'frames');
  const transport = sub.recvTransport!;
  const { ice_parameters } = await sub.signaling.request('restart-ice', { transport_id: transport.id });
  assert.ok((ice_parameters as { usernameFragment: string }).usernameFragment);
  await transport.restartIce({ iceParameters: ice_parameters as never });
  const before = v.frames;
  await eventually(() => v.frames > before + 10, 15_000, 'frames after ICE restart');
});

test('leaving closes transports, producers and consumers; the router goes with the room', async (ctx) => {
  const pub = await bot(ctx, 'pub', 'm-leave');
  const sub = await bot(ctx, 'sub', 'm-leave');
  const video = await pub.publishVideo();
  await sub.consume(video.id);
  const slot = ctx.srv.app.sfu!.pool.slots;
  const routersBefore = slot.reduce((n, s) => n + s.routers.size, 0);
  assert.ok(routersBefore >= 1);
  await pub.signaling.request('leave', {});
  assert.is((await sub.signaling.next('producer-removed')).producer_id, video.id);
  await sub.signaling.request('leave', {});
  await sleep(100);
  assert.is(
    slot.reduce((n, s) => n + s.routers.size, 0),
    routersBefore - 1,
  );
  assert.is(
    slot.reduce((n, s) => n + s.consumers, 0),
    0,
  );
});

test.run();
