// Recording started and stopped over the WebSocket by a host: real
// libwebrtc bots publish, ffmpeg copies their tracks, ffprobe checks the
// files; everyone in the room is told, webhooks fire, roles are enforced.

import { existsSync } from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { SignalingError } from '../../clients/node/signalingClient.js';
import { probe } from '../support/media.js';
import { eventually, sleep } from '../support/net.js';
import { publisher, webhookRecordingSuite, type RecordingFile, type RecordingTrack } from '../support/recording.js';

const test = webhookRecordingSuite('recording over the websocket');

test('a host records the room: per-participant WebM files with the right codecs, frames and duration', async (ctx) => {
  const room = 'rec-ws';
  const host = await publisher(ctx, 'host', room, { role: 'host', video: false });
  const speaker = await publisher(ctx, 'speaker', room);
  const viewer = await ctx.srv.joined('viewer', room, { role: 'viewer' });

  const { recording } = await host.signaling.request('start-recording', {});
  assert.is(recording.mode, 'tracks');
  assert.is(recording.started_by, 'host');
  for (const c of [speaker.signaling, viewer.client]) {
    assert.is((await c.next('recording-started', () => true, 10_000)).recording_id, recording.recording_id);
  }
  // A late joiner sees the recording in room_state.
  const late = await ctx.srv.joined('late', room, { role: 'viewer' });
  void late;
  const lateJoin = ctx.srv.app.rooms.getRoom(room)!.state();
  assert.is(lateJoin.recording?.recording_id, recording.recording_id);
  const started = await ctx.hooks.wait('recording_started', room);
  assert.is(started.recording.recording_id, recording.recording_id);
  assert.is(started.recording.status, 'recording');

  await sleep(6000);
  const stopped = await host.signaling.request('stop-recording', {}, 30_000);
  assert.equal(stopped, { recording_id: recording.recording_id, status: 'ready' });
  const finished = await viewer.client.next('recording-finished', () => true, 10_000);
  assert.is(finished.status, 'ready');
  assert.is(finished.reason, 'stopped');
  assert.is(finished.error, null);
  assert.ok(finished.duration_seconds >= 5, `duration ${finished.duration_seconds}`);

  const hook = await ctx.hooks.wait('recording_finished', room);
  assert.is(hook.recording.status, 'ready');
  assert.is(hook.recording.files.length, 2);

  const { status, body } = await ctx.srv.api('GET', `/api/v1/recordings/${recording.recording_id}`);
  assert.is(status, 200);
  assert.is(body.status, 'ready');
  assert.is(body.files.length, 2);
  const byUser = Object.fromEntries(body.files.map((f: RecordingFile) => [f.user_id, f]));
  assert.equal(Object.keys(byUser).sort(), ['host', 'speaker']);
  assert.equal(
    byUser.host.tracks.map((t: RecordingTrack) => t.codec),
    ['audio/opus'],
  );
  assert.equal(
    byUser.speaker.tracks.map((t: RecordingTrack) => t.codec),
    ['audio/opus', 'video/VP8'],
  );
  for (const f of body.files) {
    assert.is(f.status, 'ready');
    assert.ok(f.size_bytes > 0);
    assert.is(f.content_type, f.user_id === 'host' ? 'audio/webm' : 'video/webm');
    assert.match(f.name, /\.webm$/);
  }

  // The files themselves, read back with ffprobe counting decoded frames.
  const dir = path.join(ctx.srv.dataDir, 'recordings', recording.recording_id);
  const speakerFile = await probe(path.join(dir, byUser.speaker.name));
  assert.is(speakerFile.format.split(',')[0], 'matroska');
  const video = speakerFile.streams.find((s) => s.codec_type === 'video')!;
  const audio = speakerFile.streams.find((s) => s.codec_type === 'audio')!;
  assert.is(video.codec_name, 'vp8');
  assert.is(video.width, 640);
  assert.is(video.height, 360);
  assert.is(audio.codec_name, 'opus');
  // ~6 s at 15 fps and 50 Opus packets/s, minus start-up; bounds are loose (shared CPU).
  assert.ok(video.frames >= 40, `video frames ${video.frames}`);
  assert.ok(audio.frames >= 200, `audio frames ${audio.frames}`);
  assert.ok(speakerFile.duration >= 4 && speakerFile.duration <= 12, `duration ${speakerFile.duration}`);
  // A/V sync: both tracks cover about the same time span.
  assert.ok(Math.abs(video.duration - audio.duration) < 1.5, `video ${video.duration}s vs audio ${audio.duration}s`);
  const hostFile = await probe(path.join(dir, byUser.host.name));
  assert.equal(
    hostFile.streams.map((s) => s.codec_name),
    ['opus'],
  );
  assert.ok(hostFile.streams[0].frames >= 200);
});

test('only hosts and moderators may start or stop; a room that disallows recording refuses', async (ctx) => {
  const room = 'rec-perm';
  const speaker = await publisher(ctx, 'sp', room, { video: false });
  const viewer = await ctx.srv.joined('vw', room, { role: 'viewer' });
  for (const client of [speaker.signaling, viewer.client]) {
    const err = await client.request('start-recording', {}).catch((e) => e);
    assert.instance(err, SignalingError);
    assert.is((err as SignalingError).code, 'forbidden');
  }
  assert.is(ctx.srv.app.recording.activeIn(room), null);
  const mod = await ctx.srv.joined('mod', room, { role: 'moderator' });
  const { recording } = await mod.client.request('start-recording', {});
  const again = await mod.client.request('start-recording', {}).catch((e) => e);
  assert.is((again as SignalingError).code, 'conflict');
  const stopErr = await speaker.signaling.request('stop-recording', {}).catch((e) => e);
  assert.is((stopErr as SignalingError).code, 'forbidden');
  assert.is(ctx.srv.app.recording.activeIn(room)?.id, recording.recording_id);
  await mod.client.request('stop-recording', {}, 30_000);
  const notRecording = await mod.client.request('stop-recording', {}).catch((e) => e);
  assert.is((notRecording as SignalingError).code, 'not_found');

  // recording_allowed: false (set by the host through update-room) stops a running recording and refuses a start.
  const host = await ctx.srv.joined('boss', room, { role: 'host' });
  const running = await host.client.request('start-recording', {});
  await host.client.request('update-room', { recording_allowed: false });
  const ended = await host.client.next('recording-finished', (f) => f.recording_id === running.recording.recording_id, 30_000);
  assert.is(ended.reason, 'not-allowed');
  assert.is(ended.status, 'ready'); // what was recorded until then is kept
  const refused = await host.client.request('start-recording', {}).catch((e) => e);
  assert.is((refused as SignalingError).code, 'forbidden');
  assert.match((refused as SignalingError).message, /not allowed/);
});

test('a track published mid-recording and a participant joining later get their own files', async (ctx) => {
  const room = 'rec-mid';
  const host = await ctx.srv.joined('h', room, { role: 'host' });
  const first = await publisher(ctx, 'first', room, { video: false });
  const { recording } = await host.client.request('start-recording', {});
  await sleep(2500);
  await first.publishVideo({ fps: 15 }); // rolls `first` to a second segment with audio + video
  const second = await publisher(ctx, 'second', room, { audio: true, video: false });
  void second;
  await sleep(4000);
  await host.client.request('stop-recording', {}, 30_000);
  const { body } = await ctx.srv.api('GET', `/api/v1/recordings/${recording.recording_id}`);
  assert.is(body.status, 'ready');
  const firstFiles = body.files
    .filter((f: RecordingFile) => f.user_id === 'first')
    .sort((a: RecordingFile, b: RecordingFile) => a.seq - b.seq);
  assert.equal(
    firstFiles.map((f: RecordingFile) => f.seq),
    [0, 1],
  );
  assert.equal(
    firstFiles[0].tracks.map((t: RecordingTrack) => t.kind),
    ['audio'],
  );
  assert.equal(
    firstFiles[1].tracks.map((t: RecordingTrack) => t.kind),
    ['audio', 'video'],
  );
  assert.ok(new Date(firstFiles[1].started_at) > new Date(firstFiles[0].started_at));
  assert.ok(body.files.some((f: RecordingFile) => f.user_id === 'second'));
  for (const f of body.files) {
    assert.is(f.status, 'ready', `${f.name}: ${f.error}`);
    const file = path.join(ctx.srv.dataDir, 'recordings', recording.recording_id, f.name);
    assert.ok(existsSync(file));
    const probed = await probe(file);
    assert.equal(probed.streams.map((s) => s.codec_type).sort(), f.tracks.map((t: RecordingTrack) => t.kind).sort());
    assert.ok(
      probed.streams.every((s) => s.frames > 0),
      `${f.name} has media`,
    );
  }
});

test('when the call ends, its recording ends (room-ended)', async (ctx) => {
  const room = 'rec-end';
  const host = await publisher(ctx, 'h2', room, { role: 'host', video: false });
  const { recording } = await host.signaling.request('start-recording', {});
  await sleep(2000);
  await host.signaling.request('end-call', {});
  const done = await eventually(
    async () => {
      const { body } = await ctx.srv.api('GET', `/api/v1/recordings/${recording.recording_id}`);
      return ['ready', 'failed'].includes(body.status) && body;
    },
    30_000,
    'recording finished',
  );
  assert.is(done.status, 'ready', JSON.stringify(done));
  const hook = await ctx.hooks.wait('recording_finished', room);
  assert.is(hook.recording.end_reason, 'room-ended');
});

test.run();
