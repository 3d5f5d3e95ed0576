// Dynacast with the real SFU: a simulcast publisher (libwebrtc bot) hears
// `publisher-layers` with the highest spatial layer its live consumers want,
// as subscribers come, pause, change their preferred layer and leave, and as
// a plain-RTP consumer (what recorders use) attaches; with DYNACAST=off it
// hears nothing.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import { freePort, sleep } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

/** Short, so lowering shows quickly; raising must not wait for it. */
const LOWER_DELAY_MS = 400;

interface Ctx {
  on: TestServer;
  off: TestServer;
  bots: MediaBot[];
}

const test = suite<Ctx>('sfu dynacast', {} as Ctx);

test.before(async (ctx) => {
  ctx.on = await startServer({ sfuWorkers: 1, env: { DYNACAST_LOWER_DELAY_MS: String(LOWER_DELAY_MS) } });
  ctx.off = await startServer({ sfuWorkers: 1, env: { DYNACAST: 'off' } });
});
test.after(async (ctx) => {
  await ctx.on.stop();
  await ctx.off.stop();
});
test.before.each((ctx) => {
  ctx.bots = [];
});
test.after.each(async (ctx) => {
  for (const b of ctx.bots) await b.close().catch(() => {});
});

async function bot(ctx: Ctx, srv: TestServer, user: string, room: string): Promise<MediaBot> {
  const b = await MediaBot.join(srv.url, await srv.mint({ userId: user }), room);
  ctx.bots.push(b);
  return b;
}

/** The next publisher-layers for `producerId`, and how long it took since `since`. */
async function layers(pub: SignalingClient, producerId: string, since = Date.now()): Promise<{ layer: number | null; ms: number }> {
  const m = await pub.next('publisher-layers', (p) => p.producer_id === producerId, 10_000);
  return { layer: m.max_spatial_layer, ms: Date.now() - since };
}

/** Lowering waits for the delay: it never comes sooner. */
async function lowered(pub: SignalingClient, producerId: string, since: number): Promise<number | null> {
  const { layer, ms } = await layers(pub, producerId, since);
  assert.ok(ms >= LOWER_DELAY_MS - 20, `lowered after ${ms} ms, before the ${LOWER_DELAY_MS} ms delay`);
  return layer;
}

test('the publisher hears the highest layer its live consumers want', async (ctx) => {
  const pub = await bot(ctx, ctx.on, 'pub', 'dc-on');
  const video = await pub.publishVideo({ simulcast: true });
  const audio = await pub.publishAudio();
  const s = pub.signaling;
  // Nobody consumes a new producer: after the delay, send nothing.
  assert.is((await layers(s, video.id)).layer, null);

  const sub1 = await bot(ctx, ctx.on, 'sub1', 'dc-on');
  const t1 = await sub1.consume(video.id); // resumed: wants the top layer (nothing asked yet)
  await sub1.consume(audio.id);
  assert.is((await layers(s, video.id)).layer, 2);

  let since = Date.now();
  await sub1.signaling.request('set-consumer-layers', { consumer_id: t1.consumer.id, spatial_layer: 0 });
  assert.is(await lowered(s, video.id, since), 0);

  // A second subscriber raises it at once, and pausing it lowers it again.
  const sub2 = await bot(ctx, ctx.on, 'sub2', 'dc-on');
  const t2 = await sub2.consume(video.id);
  assert.is((await layers(s, video.id)).layer, 2);
  since = Date.now();
  await sub2.signaling.request('pause-consumer', { consumer_id: t2.consumer.id });
  assert.is(await lowered(s, video.id, since), 0);
  await sub2.signaling.request('resume-consumer', { consumer_id: t2.consumer.id });
  assert.is((await layers(s, video.id)).layer, 2);
  since = Date.now();
  await sub2.signaling.request('set-consumer-layers', { consumer_id: t2.consumer.id, spatial_layer: 1 });
  assert.is(await lowered(s, video.id, since), 1);

  // A plain-RTP consumer (a recorder's) wants the top layer while it runs.
  const media = ctx.on.app.rooms.getRoom('dc-on')!.media!;
  const plain = await media.createPlainConsumer(video.id, {
    ip: '127.0.0.1',
    port: await freePort(),
    rtpCapabilities: await media.rtpCapabilities(),
  });
  assert.is((await layers(s, video.id)).layer, 2);
  since = Date.now();
  plain.transport.close();
  assert.is(await lowered(s, video.id, since), 1);

  // The second subscriber leaves; the first pauses: nobody receives it.
  since = Date.now();
  await sub2.close();
  assert.is(await lowered(s, video.id, since), 0);
  since = Date.now();
  await sub1.signaling.request('pause-consumer', { consumer_id: t1.consumer.id });
  assert.is(await lowered(s, video.id, since), null);
  // A quick pause and resume within the delay changes nothing.
  await sub1.signaling.request('resume-consumer', { consumer_id: t1.consumer.id });
  assert.is((await layers(s, video.id)).layer, 0);
  await sub1.signaling.request('pause-consumer', { consumer_id: t1.consumer.id });
  await sub1.signaling.request('resume-consumer', { consumer_id: t1.consumer.id });
  await sleep(LOWER_DELAY_MS * 2);
  assert.equal(s.unread('publisher-layers'), []);
  // Only the layered video producer is followed; only its publisher hears of it.
  assert.ok(sub1.signaling.unread('publisher-layers').length === 0);
});

test('DYNACAST=off: the publisher hears nothing', async (ctx) => {
  const pub = await bot(ctx, ctx.off, 'pub', 'dc-off');
  const video = await pub.publishVideo({ simulcast: true });
  const sub = await bot(ctx, ctx.off, 'sub', 'dc-off');
  const t = await sub.consume(video.id);
  await sub.signaling.request('set-consumer-layers', { consumer_id: t.consumer.id, spatial_layer: 0 });
  // The SFU switched the subscriber to layer 0 (so it took the request), and well past any delay...
  await sub.signaling.next('consumer-layers-changed', (l) => l.spatial_layer === 0, 15_000);
  await sub.signaling.request('pause-consumer', { consumer_id: t.consumer.id });
  await sleep(3000);
  // ...the publisher was told nothing.
  assert.equal(pub.signaling.unread('publisher-layers'), []);
});

test.run();
