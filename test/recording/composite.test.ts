// Composite mode: every participant's video tiled in one grid and every
// microphone mixed, transcoded by ffmpeg into one WebM (VP8 + Opus).

import path from 'node:path';
import * as assert from 'uvu/assert';
import { compositeFilter } from '../../recording/outputs.js';
import { probe } from '../support/media.js';
import { sleep } from '../support/net.js';
import { publisher, recordingSuite } from '../support/recording.js';

const test = recordingSuite('composite recording');

test('the filter tiles videos in a grid and mixes audio', () => {
  const three = compositeFilter([{ kind: 'audio' }, { kind: 'audio' }, { kind: 'video' }, { kind: 'video' }, { kind: 'video' }]);
  assert.match(three.filter, /xstack=inputs=3:layout=0_0\|640_0\|0_360:fill=black\[vgrid\]/);
  assert.match(three.filter, /amix=inputs=2/);
  assert.equal([three.videoOut, three.audioOut], ['vgrid', 'amix']);
  const one = compositeFilter([{ kind: 'video' }]);
  assert.equal([one.videoOut, one.audioOut], ['v0', null]);
});

test('two publishers recorded as one grid video with mixed audio', async (ctx) => {
  const room = 'composite';
  await publisher(ctx, 'left', room);
  await publisher(ctx, 'right', room);
  const started = await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings`, { mode: 'composite' });
  assert.is(started.status, 201);
  assert.is(started.body.mode, 'composite');
  await sleep(7000);
  const { body } = await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings/stop`);
  assert.is(body.status, 'ready', JSON.stringify(body));
  assert.is(body.files.length, 1);
  const file = body.files[0];
  assert.is(file.kind, 'composite');
  assert.is(file.participant_id, null);
  assert.is(file.tracks.length, 4);
  const probed = await probe(path.join(ctx.srv.dataDir, 'recordings', body.recording_id, file.name));
  assert.is(probed.streams.length, 2);
  const video = probed.streams.find((s) => s.codec_type === 'video')!;
  const audio = probed.streams.find((s) => s.codec_type === 'audio')!;
  assert.is(video.codec_name, 'vp8');
  assert.equal([video.width, video.height], [1280, 720]); // two 640x720 cells side by side
  assert.is(audio.codec_name, 'opus');
  // Constant 15 fps output: generous bounds (transcoding shares 2 cores with the bots).
  assert.ok(video.frames >= 30, `video frames ${video.frames}`);
  assert.ok(audio.frames >= 100, `audio frames ${audio.frames}`);
  assert.ok(probed.duration >= 3, `duration ${probed.duration}`);
});

test.run();
