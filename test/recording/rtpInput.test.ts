// The RTP -> ffmpeg plumbing on its own: real libwebrtc bots publish through
// the SFU, plain consumers feed ffmpeg, ffprobe checks what it wrote.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { createLogger } from '../../server/kernel/logger.js';
import type { MediaRoom } from '../../sfu/mediaRoom.js';
import type { ProducerInfo } from '../../signaling/protocol/protocol.js';
import { RollingPipeline, TrackGoneError } from '../../recording/rollingPipeline.js';
import { RtpPipeline } from '../../recording/rtpPipeline.js';
import { buildSdp } from '../../recording/sdp.js';
import { probe } from '../support/media.js';
import { eventually, sleep } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

interface Ctx {
  srv: TestServer;
  bots: MediaBot[];
  dir: string;
}
const test = suite<Ctx>('recording rtp input', {} as Ctx);
const log = createLogger('silent');

test.before(async (ctx) => {
  ctx.srv = await startServer({ sfuWorkers: 1 });
  ctx.dir = mkdtempSync(path.join(tmpdir(), 'switchboard-rtp-'));
});
test.after(async (ctx) => {
  await ctx.srv.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});
test.before.each((ctx) => {
  ctx.bots = [];
});
test.after.each(async (ctx) => {
  for (const b of ctx.bots) await b.close().catch(() => {});
});

async function publisher(ctx: Ctx, room: string, what: { audio?: boolean; video?: boolean } = { audio: true, video: true }) {
  const bot = await MediaBot.join(ctx.srv.url, await ctx.srv.mint({ userId: `u-${ctx.bots.length}`, role: 'speaker' }), room);
  ctx.bots.push(bot);
  if (what.audio) await bot.publishAudio();
  if (what.video) await bot.publishVideo({ fps: 15 });
  const media = ctx.srv.app.rooms.getRoom(room)!.media!;
  return { bot, media };
}

function copyTo(file: string) {
  return (command: import('fluent-ffmpeg').FfmpegCommand) => {
    command.output(file).outputOptions(['-map', '0', '-c', 'copy', '-f', 'matroska']);
  };
}

function ownProducers(media: MediaRoom, participantId: string): ProducerInfo[] {
  return media.producerList().filter((p) => p.participant_id === participantId);
}

test('SDP lines come from the consumer parameters', () => {
  const sdp = buildSdp([
    {
      kind: 'audio',
      port: 5000,
      rtpParameters: {
        codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 } }],
        encodings: [{ ssrc: 11 }],
        rtcp: { cname: 'c' },
      },
    },
    {
      kind: 'video',
      port: 5002,
      rtpParameters: {
        codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } }],
        encodings: [{ ssrc: 22 }],
      },
    },
  ]);
  assert.match(sdp, /m=audio 5000 RTP\/AVPF 100\r\na=rtpmap:100 opus\/48000\/2\r\na=fmtp:100 useinbandfec=1\r\na=rtcp-mux/);
  assert.match(sdp, /a=ssrc:11 cname:c/);
  assert.match(sdp, /m=video 5002 RTP\/AVPF 101\r\na=rtpmap:101 VP8\/90000\r\na=rtcp-mux/);
  assert.not.match(sdp, /x-google/);
});

test('one participant, audio + video, copied into Matroska: codecs, frames, duration', async (ctx) => {
  const { bot, media } = await publisher(ctx, 'rtp-basic');
  const file = path.join(ctx.dir, 'basic.mkv');
  const pipeline = await RtpPipeline.start({
    media,
    producers: ownProducers(media, bot.participantId),
    workDir: ctx.dir,
    name: 'basic',
    output: copyTo(file),
    log,
  });
  assert.equal(
    pipeline.tracks.map((t) => t.mimeType),
    ['audio/opus', 'video/VP8'],
  );
  await sleep(5000);
  const exit = await pipeline.stop();
  assert.ok(exit.requested, 'stop was requested');
  assert.is(exit.reason, null, `clean exit: ${exit.stderrTail.join('\n')}`);
  const probed = await probe(file);
  const audio = probed.streams.find((s) => s.codec_type === 'audio');
  const video = probed.streams.find((s) => s.codec_type === 'video');
  assert.is(audio?.codec_name, 'opus');
  assert.is(video?.codec_name, 'vp8');
  assert.is(video?.width, 640);
  // 15 fps for ~5 s minus the start-up: generous bounds, the box is shared.
  assert.ok(video!.frames >= 20, `video frames ${video!.frames}`);
  assert.ok(audio!.frames >= 100, `audio frames ${audio!.frames}`); // 20 ms Opus packets
  assert.ok(probed.duration >= 2 && probed.duration <= 10, `duration ${probed.duration}`);
});

test('a simulcast producer is recorded from its best layer', async (ctx) => {
  const bot = await MediaBot.join(ctx.srv.url, await ctx.srv.mint({ userId: 'simul', role: 'speaker' }), 'rtp-simulcast');
  ctx.bots.push(bot);
  await bot.publishVideo({ width: 1280, height: 720, simulcast: true });
  const media = ctx.srv.app.rooms.getRoom('rtp-simulcast')!.media!;
  const file = path.join(ctx.dir, 'simulcast.webm');
  const pipeline = await RtpPipeline.start({
    media,
    producers: ownProducers(media, bot.participantId),
    workDir: ctx.dir,
    name: 'simulcast',
    log,
    output: (c) => c.output(file).outputOptions(['-map', '0', '-c', 'copy', '-f', 'webm']),
  });
  assert.is(pipeline.tracks[0].consumer.type, 'simulcast');
  await sleep(6000);
  assert.is((await pipeline.stop()).reason, null);
  const video = (await probe(file)).streams[0];
  assert.is(video.codec_name, 'vp8');
  // libwebrtc sends only the lower layers at first (bandwidth ramp-up): the file holds whichever was best.
  assert.ok((video.width ?? 0) >= 320, `width ${video.width}`);
  assert.ok(video.frames >= 20, `frames ${video.frames}`);
});

test('a killed ffmpeg is reported with its reason; the partial file stays readable', async (ctx) => {
  const { bot, media } = await publisher(ctx, 'rtp-crash');
  const file = path.join(ctx.dir, 'crash.mkv');
  const pipeline = await RtpPipeline.start({
    media,
    producers: ownProducers(media, bot.participantId),
    workDir: ctx.dir,
    name: 'crash',
    log,
    output: (c) =>
      c.output(file).outputOptions(['-map', '0', '-c', 'copy', '-f', 'matroska', '-cluster_time_limit', '1000', '-flush_packets', '1']),
  });
  await sleep(4000);
  const exited = new Promise<import('../../recording/ffmpegProcess.js').FfmpegExit>((r) => pipeline.once('exit', r));
  process.kill(pipeline.ffmpeg.pid!, 'SIGKILL');
  const exit = await exited;
  assert.not.ok(exit.requested);
  assert.is(exit.signal, 'SIGKILL');
  assert.match(String(exit.reason), /killed by SIGKILL/);
  assert.ok(
    pipeline.tracks.every((t) => t.transport.closed),
    'consumers closed with it',
  );
  assert.ok(existsSync(file));
  const probed = await probe(file);
  assert.ok((probed.streams.find((s) => s.codec_type === 'video')?.frames ?? 0) > 0, 'written video survives');
  // The room goes on: the publisher still publishes.
  assert.is(ownProducers(media, bot.participantId).length, 2);
});

test('a missing ffmpeg binary fails the start clearly', async (ctx) => {
  const { bot, media } = await publisher(ctx, 'rtp-missing', { audio: true });
  const err = await RtpPipeline.start({
    media,
    producers: ownProducers(media, bot.participantId),
    workDir: ctx.dir,
    name: 'missing',
    log,
    ffmpegPath: '/nonexistent/ffmpeg',
    output: copyTo(path.join(ctx.dir, 'missing.mkv')),
  }).catch((e) => e as Error);
  assert.instance(err, Error);
  assert.match((err as Error).message, /ffmpeg|ENOENT/i);
});

test('attaching a track mid-way rolls to a new segment; both segments hold media', async (ctx) => {
  const { bot, media } = await publisher(ctx, 'rtp-roll', { audio: true });
  const files: string[] = [];
  const rolling = new RollingPipeline({
    log,
    overlapMs: 800,
    startSegment: (producers, seq) => {
      const file = path.join(ctx.dir, `roll-${seq}.mkv`);
      files.push(file);
      return RtpPipeline.start({ media, producers, workDir: ctx.dir, name: `roll-${seq}`, output: copyTo(file), log });
    },
  });
  const ended: number[] = [];
  rolling.on('segmentend', (seg, exit) => {
    assert.ok(exit.requested);
    ended.push(seg.seq);
  });
  for (const p of ownProducers(media, bot.participantId)) rolling.attach(p);
  await rolling.flush();
  assert.is(rolling.segment?.seq, 0);
  await sleep(2500);
  const video = await bot.publishVideo();
  rolling.attach(ownProducers(media, bot.participantId).find((p) => p.producer_id === video.id)!);
  await rolling.flush();
  assert.is(rolling.segment?.seq, 1);
  await eventually(() => ended.includes(0), 10_000, 'first segment stopped after the overlap');
  await sleep(3000);
  await rolling.stop();
  assert.equal(ended.sort(), [0, 1]);
  const first = await probe(files[0]);
  const second = await probe(files[1]);
  assert.equal(
    first.streams.map((s) => s.codec_name),
    ['opus'],
  );
  assert.equal(second.streams.map((s) => s.codec_name).sort(), ['opus', 'vp8']);
  assert.ok(second.streams.every((s) => s.frames > 0));
});

test('a segment whose track went away while starting is tried again, not failed', async (ctx) => {
  const { bot, media } = await publisher(ctx, 'rtp-gone', { audio: true });
  let calls = 0;
  const errors: Error[] = [];
  const rolling = new RollingPipeline({
    log,
    settleMs: 50,
    startSegment: (producers, seq) => {
      if (calls++ === 0) throw new TrackGoneError('closed meanwhile');
      return RtpPipeline.start({
        media,
        producers,
        workDir: ctx.dir,
        name: `gone-${seq}`,
        output: copyTo(path.join(ctx.dir, `gone-${seq}.mkv`)),
        log,
      });
    },
  });
  rolling.on('error', (err) => errors.push(err));
  for (const p of ownProducers(media, bot.participantId)) rolling.attach(p);
  await rolling.flush();
  await eventually(() => rolling.segment, 10_000, 'the retried segment');
  assert.is(calls, 2);
  assert.equal(errors, []);
  await rolling.stop();
});

test.run();
