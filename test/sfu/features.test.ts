// Data channels, speaking indicators, connection quality and TCP fallback.

import dgram from 'node:dgram';
import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { eventually } from '../support/net.js';
import { mediaBotSuite, type BotCtx } from '../support/bots.js';

const test = mediaBotSuite('sfu features');

async function bot(ctx: BotCtx, user: string, room: string, opts: { forceTcp?: boolean } = {}) {
  const b = await MediaBot.join(ctx.srv.url, await ctx.srv.mint({ userId: user }), room, opts);
  ctx.bots.push(b);
  return b;
}

test('data channels: produce-data reaches a consumer through the SFU', async (ctx) => {
  const a = await bot(ctx, 'a', 'f-data');
  const b = await bot(ctx, 'b', 'f-data');
  const channel = await a.produceData('chat');
  const added = await b.signaling.next('data-producer-added');
  assert.equal([added.participant_id, added.label], [a.participantId, 'chat']);
  const consumer = await b.consumeData(added.data_producer_id);
  const received = new Promise<string>((resolve) => consumer.on('message', (m: string) => resolve(m)));
  await eventually(() => channel.readyState === 'open' && consumer.readyState === 'open', 10_000, 'channels open');
  channel.send('hello room');
  assert.is(await received, 'hello room');
  await a.signaling.request('close-data-producer', { data_producer_id: channel.id });
  assert.is((await b.signaling.next('data-producer-removed')).data_producer_id, channel.id);
});

test('speaking: audio-levels and active-speaker name the participant with sound', async (ctx) => {
  const a = await bot(ctx, 'a', 'f-speak');
  const b = await bot(ctx, 'b', 'f-speak');
  await a.publishAudio();
  const levels = await b.signaling.next('audio-levels', (l) => l.levels.length > 0, 10_000);
  assert.is(levels.levels[0].participant_id, a.participantId);
  assert.ok(levels.levels[0].volume > -60 && levels.levels[0].volume <= 0, `volume ${levels.levels[0].volume}`);
  const speaker = await b.signaling.next('active-speaker', () => true, 10_000);
  assert.is(speaker.participant_id, a.participantId);
});

test('connection quality is reported from mediasoup scores', async (ctx) => {
  const a = await bot(ctx, 'a', 'f-quality');
  const b = await bot(ctx, 'b', 'f-quality');
  const video = await a.publishVideo();
  await b.consume(video.id);
  const q = await b.signaling.next('connection-quality', (x) => x.participant_id === a.participantId, 10_000);
  assert.ok(['excellent', 'good'].includes(q.quality), q.quality);
  assert.ok(q.score >= 4 && q.score <= 10);
  // A late joiner reads the current quality from room_state.
  const late = await ctx.srv.joined('late', 'f-quality');
  const { room_state } = await late.client.request('leave', {}).then(() => late.client.request('join', { room: 'f-quality' }));
  const seen = room_state.participants.find((p) => p.participant_id === a.participantId)!;
  assert.ok(seen.connection_quality !== null && ['excellent', 'good'].includes(seen.connection_quality), String(seen.connection_quality));
  await late.client.close();
});

test('force_tcp: ICE over the worker TCP port carries media', async (ctx) => {
  const pub = await bot(ctx, 'pub', 'f-tcp');
  const sub = await bot(ctx, 'sub', 'f-tcp', { forceTcp: true });
  const video = await pub.publishVideo();
  const v = await sub.consume(video.id);
  await eventually(() => v.frames >= 5, 20_000, 'frames over TCP');
  const { stats } = await sub.signaling.request('get-stats', { transport_id: sub.recvTransport!.id });
  const tuple = (stats[0] as { iceSelectedTuple?: { protocol: string } }).iceSelectedTuple;
  assert.is(tuple?.protocol, 'tcp');
});

test('SFU request errors: unknown ids are not_found, wrong direction invalid_payload, duplicates conflict', async (ctx) => {
  const a = await bot(ctx, 'a', 'f-errors');
  const e1 = await a.signaling.request('consume', { transport_id: 'nope', producer_id: 'x', rtp_capabilities: {} }).catch((e) => e);
  assert.equal([e1.code, e1.field], ['not_found', 'transport_id']);
  await a.publishAudio();
  const e2 = await a.signaling.request('create-transport', { direction: 'send' }).catch((e) => e);
  assert.is(e2.code, 'conflict');
  const e3 = await a.signaling
    .request('consume', { transport_id: a.sendTransport!.id, producer_id: 'x', rtp_capabilities: {} })
    .catch((e) => e);
  assert.equal([e3.code, e3.field], ['invalid_payload', 'transport_id']);
  const e4 = await a.publishAudio().catch((e) => e);
  assert.match(String(e4?.message ?? e4), /conflict/);
  const e5 = await a.signaling
    .request('connect-transport', { transport_id: a.sendTransport!.id, dtls_parameters: { role: 'bogus' } as never })
    .catch((e) => e);
  assert.equal([e5.code, e5.field], ['invalid_payload', 'payload.dtls_parameters.role']);
  const e6 = await a.signaling
    .request('produce', {
      transport_id: a.sendTransport!.id,
      kind: 'video',
      rtp_parameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }] },
      source: 'mic',
    })
    .catch((e) => e);
  assert.equal([e6.code, e6.field], ['invalid_payload', 'source']);
});

test('plain subscriber: one transport carries audio and video to one UDP port, each with its SSRC, and closes with its last stream', async (ctx) => {
  const pub = await bot(ctx, 'pub', 'f-plain');
  const audio = await pub.publishAudio();
  const video = await pub.publishVideo();
  const media = ctx.srv.app.rooms.getRoom('f-plain')!.media!;
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const seen = new Map<number, number>();
  socket.on('message', (m) => {
    if (m.length >= 12 && !((m[1] & 0x7f) >= 64 && (m[1] & 0x7f) <= 95))
      seen.set(m.readUInt32BE(8), (seen.get(m.readUInt32BE(8)) ?? 0) + 1);
  });
  try {
    const { transport, consumers } = await media.createPlainSubscriber([audio.id, video.id], {
      ip: '127.0.0.1',
      port: socket.address().port,
      rtpCapabilities: await media.rtpCapabilities(),
    });
    assert.is(consumers.length, 2);
    const ssrcs = consumers.map((c) => c.rtpParameters.encodings![0].ssrc!);
    assert.is.not(ssrcs[0], ssrcs[1]);
    await eventually(() => ssrcs.every((s) => (seen.get(s) ?? 0) >= 10), 15_000, 'audio and video packets on the one port');
    // Unknown producers are refused and create nothing.
    const before = media.routerCount;
    await media
      .createPlainSubscriber([audio.id, 'nope'], {
        ip: '127.0.0.1',
        port: socket.address().port,
        rtpCapabilities: await media.rtpCapabilities(),
      })
      .then(
        () => assert.unreachable('accepted an unknown producer'),
        (err: { code?: string }) => assert.is(err.code, 'not_found'),
      );
    assert.is(media.routerCount, before);
    // The transport outlives one closed producer and goes with the last.
    await pub.signaling.request('close-producer', { producer_id: audio.id });
    await eventually(() => consumers[0].closed, 10_000, 'audio consumer closed');
    assert.is(transport.closed, false);
    await pub.signaling.request('close-producer', { producer_id: video.id });
    await eventually(() => transport.closed, 10_000, 'transport closed with its last stream');
  } finally {
    socket.close();
  }
});

test.run();
