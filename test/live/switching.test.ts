// Live streaming: what the stream shows changes while it is live. A host
// shows another participant (a new ffmpeg part in the same playlist, with a
// discontinuity), the stream goes back when they leave, survives everything
// shown being paused (ffmpeg idles out, a new part starts on resume), follows
// the dominant speaker in the active-speaker layout, and ends with the room.

import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { eventually } from '../support/net.js';
import { liveSuite, ffprobeLive, host, untilStatus, watcher } from '../support/live.js';

const test = liveSuite('live streaming: switching', {
  LIVE_HLS_ACCESS: 'public', // this file's streams are public (live.test.ts covers signed URLs)
});

test('show another participant: a new ffmpeg part in the same playlist (discontinuity); when they leave the stream goes back', async (ctx) => {
  const { srv } = ctx;
  const room = 'live-show';
  const bot = await host(ctx, room);
  const started = await bot.signaling.request('live-start', {});
  await untilStatus(bot.signaling, 'live', started.stream.stream_id);
  const stream = srv.app.live.current(room)!;
  const guest = await MediaBot.join(srv.url, await srv.mint({ userId: 'guest', role: 'speaker' }), room);
  ctx.bots.push(guest);
  const silent = await srv.joined('silent', room, { role: 'speaker' });
  assert.is(
    (await bot.signaling.request('live-show', { participant_id: silent.id }).catch((e) => e)).code,
    'conflict',
    'publishes nothing',
  );
  assert.is((await silent.client.request('live-show', { participant_id: bot.participantId }).catch((e) => e)).code, 'forbidden');
  await guest.publishAudio();
  await guest.publishVideo({ width: 320, height: 240, fps: 15 });

  const { stream: shown } = await bot.signaling.request('live-show', { participant_id: guest.participantId });
  assert.is(shown.participant_id, guest.participantId);
  assert.is(shown.stream_id, stream.id, 'the same stream');
  await silent.client.next('live-stream-updated', (p) => p.stream.participant_id === guest.participantId, 20_000);
  const url = `${srv.url}${srv.app.live.playlistUrl(stream, 'checker')}`;
  const list = (await eventually(
    async () => {
      const text = await (await fetch(url)).text();
      return /#EXT-X-DISCONTINUITY\n#EXTINF[^\n]*\np1_/.test(text) && (text.match(/^p1_/gm) ?? []).length >= 3 ? text : null;
    },
    45_000,
    'the new part in the playlist',
  )) as string;
  // Public access: the playlist needs no token; ?viewer= is carried to the segments, and a bare request counts by address.
  assert.match(list, /^p1_\d+\.ts\?viewer=checker$/m);
  const bare = await fetch(`${srv.url}/live/${room}/index.m3u8`);
  assert.is(bare.status, 200);
  assert.match(await bare.text(), /^p\d+_\d+\.ts$/m);
  const seg = (await (await fetch(url)).text()).match(/^(p\d+_\d+\.ts)\?viewer=checker$/m)![1];
  const segment = await fetch(`${srv.url}/live/${room}/${seg}`);
  assert.is(segment.status, 200);
  assert.is(segment.headers.get('content-type'), 'video/mp2t');
  assert.ok((await segment.arrayBuffer()).byteLength > 1000);
  assert.is((await fetch(`${srv.url}/live/${room}/%2e%2e%2f%2e%2e%2fschema.sql`)).status, 404);
  assert.is((await fetch(`${srv.url}/live/${room}/p1_00000.ts.tmp`)).status, 404);
  await eventually(() => stream.viewers.current() >= 2, 5000, 'the checker and the bare player'); // 'v:checker', 'ip:127.0.0.1'
  const seqs = [...list.matchAll(/#EXT-X-MEDIA-SEQUENCE:(\d+)/g)];
  assert.is(seqs.length, 1);
  const streams = await ffprobeLive(url);
  const video = streams.find((s) => s.codec_type === 'video');
  assert.is(video?.codec_name, 'h264');
  assert.is(video?.width, 320, 'the guest is shown');
  assert.is(srv.app.live.current(room)!.status, 'live');

  // The guest leaves: the stream goes back to the host on its own.
  await guest.close();
  ctx.bots.pop();
  const back = await silent.client.next('live-stream-updated', (p) => p.stream.participant_id === bot.participantId, 20_000);
  assert.is(back.stream.status, 'live');
  await eventually(async () => /^p2_/m.test(await (await fetch(url)).text()), 45_000, 'a third part');
  await silent.client.close();
});

test('camera off: a part without it (black picture); everything paused: no part; resume: a new part with both', async (ctx) => {
  const { srv } = ctx;
  const room = 'live-show';
  const bot = ctx.bots[0];
  const stream = srv.app.live.current(room)!;
  const media = srv.app.rooms.getRoom(room)!.media!;
  const url = `${srv.url}${srv.app.live.playlistUrl(stream, 'checker')}`;
  const lastPart = async () => Math.max(...(await (await fetch(url)).text()).match(/^p(\d+)_/gm)!.map((m) => Number(m.slice(1, -1))));
  const audio = [...bot.producers.values()].find((p) => p.kind === 'audio');
  const video = [...bot.producers.values()].find((p) => p.kind === 'video');
  const showing = () =>
    stream
      .pipeline!.showing.map((p) => p.kind)
      .sort()
      .join('+');

  await bot.signaling.request('pause-producer', { producer_id: video!.id });
  await eventually(() => showing() === 'audio', 20_000, 'the camera to leave the picture');
  const withoutCamera = (await lastPart()) + 1;
  await eventually(async () => (await lastPart()) >= withoutCamera, 45_000, 'the audio-only part');
  await bot.signaling.request('pause-producer', { producer_id: audio!.id });
  await eventually(() => stream.pipeline!.pid === null && showing() === '', 15_000, 'no part while everything is paused');
  assert.is(srv.app.live.current(room)?.status, 'live', 'still live');
  assert.is(stream.row.participant_id, bot.participantId, 'still shown');
  assert.ok(media.producerList().every((p) => p.paused));

  for (const p of [audio!, video!]) await bot.signaling.request('resume-producer', { producer_id: p.id });
  await eventually(() => showing() === 'audio+video', 20_000, 'both tracks back');
  await eventually(async () => (await lastPart()) > withoutCamera, 45_000, 'a new part after resume');
  assert.is(srv.app.live.current(room)?.status, 'live');
  await srv.api('POST', `/api/v1/rooms/${room}/live/stop`);
});

test('grid layout: everyone tiled and mixed (the recording composite) in 1280x720; a leaver makes a new grid part', async (ctx) => {
  const { srv } = ctx;
  const room = 'live-grid';
  const a = await host(ctx, room);
  const b = await MediaBot.join(srv.url, await srv.mint({ userId: 'grid-b', role: 'speaker' }), room);
  ctx.bots.push(b);
  await b.publishAudio();
  await b.publishVideo({ width: 320, height: 240, fps: 15 });
  assert.is(
    (await a.signaling.request('live-start', { layout: 'grid', participant_id: b.participantId }).catch((e) => e)).code,
    'invalid_payload',
  );
  const { stream } = await a.signaling.request('live-start', { layout: 'grid' });
  assert.is(stream.participant_id, null);
  assert.equal(
    srv.app.live
      .current(room)!
      .pipeline!.showing.map((p) => p.kind)
      .sort(),
    ['audio', 'audio', 'video', 'video'],
  );
  await untilStatus(a.signaling, 'live', stream.stream_id);
  const url = `${srv.url}${srv.app.live.playlistUrl(srv.app.live.current(room)!, 'checker')}`;
  const probed = await ffprobeLive(url);
  const video = probed.find((s) => s.codec_type === 'video');
  assert.is(video?.codec_name, 'h264');
  assert.is(video?.width, 1280, 'the grid canvas');
  assert.ok(Number(video!.nb_read_frames) > 10);
  assert.is(probed.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
  assert.is((await a.signaling.request('live-show', { participant_id: b.participantId }).catch((e) => e)).code, 'conflict');

  await b.close();
  ctx.bots.pop();
  await eventually(() => srv.app.live.current(room)!.pipeline!.showing.length === 2, 15_000, 'the grid without the leaver');
  await eventually(async () => /^p1_/m.test(await (await fetch(url)).text()), 45_000, 'the new grid part');
  assert.is(srv.app.live.current(room)?.status, 'live');
  await a.signaling.request('live-stop', {});
});

test('active-speaker layout follows the dominant speaker; the room closing ends the stream (room-closed)', async (ctx) => {
  const { srv } = ctx;
  const room = 'live-speaker';
  // The host publishes only a camera; the guest who joins later speaks (so the SFU's
  // dominant-speaker detection has one clear candidate; its algorithm is mediasoup's).
  const hostBot = await MediaBot.join(srv.url, await srv.mint({ userId: 'quiet-host', role: 'host' }), room);
  ctx.bots.push(hostBot);
  await hostBot.publishVideo({ width: 640, height: 360, fps: 15 });
  const tv = await watcher(ctx, 'tv-speaker', room);
  const { stream } = await hostBot.signaling.request('live-start', { layout: 'active-speaker' });
  assert.is(stream.layout, 'active-speaker');
  assert.is(stream.participant_id, hostBot.participantId, 'the host with a camera is shown first');
  await untilStatus(tv.client, 'live', stream.stream_id);
  const guest = await MediaBot.join(srv.url, await srv.mint({ userId: 'talker', role: 'speaker' }), room);
  ctx.bots.push(guest);
  await guest.publishAudio({ amplitude: 12000, talk: true });
  await guest.publishVideo({ width: 320, height: 240, fps: 15 });
  const switched = await tv.client.next('live-stream-updated', (p) => p.stream.participant_id === guest.participantId, 30_000);
  assert.is(switched.stream.status, 'live');
  const url = `${srv.url}${srv.app.live.playlistUrl(srv.app.live.current(room)!, 'checker')}`;
  await eventually(async () => /^p1_/m.test(await (await fetch(url)).text()), 45_000, "the speaker's part in the playlist");

  await hostBot.signaling.request('end-call', {});
  const ended = await untilStatus(tv.client, 'ended', stream.stream_id, 20_000);
  assert.is(ended.stream.end_reason, 'room-closed');
  await tv.client.close();
});

test.run();
