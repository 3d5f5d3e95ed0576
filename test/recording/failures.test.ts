// Failure handling: ffmpeg killed mid-recording, a disk that fills up, no
// ffmpeg at all. The recording fails clearly (status, reason, webhook), the
// files written so far stay readable, and the room's call goes on.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { SignalingError } from '../../clients/node/signalingClient.js';
import { probe } from '../support/media.js';
import { eventually, sleep } from '../support/net.js';
import { publisher, webhookRecordingSuite } from '../support/recording.js';

const test = webhookRecordingSuite('recording failures');

/** Our own child processes whose command line mentions `needle` (the ffmpeg of one recording). */
function childrenWith(needle: string): number[] {
  const pids: number[] = [];
  for (const task of readdirSync(`/proc/${process.pid}/task`)) {
    const children = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim();
    for (const pid of children ? children.split(/\s+/).map(Number) : []) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) pids.push(pid);
      } catch {
        // gone
      }
    }
  }
  return pids;
}

test('ffmpeg killed mid-recording: failed + webhook, partial file kept, the call unaffected', async (ctx) => {
  const room = 'fail-kill';
  const host = await publisher(ctx, 'host', room, { role: 'host' });
  const viewer = await ctx.srv.joined('viewer', room, { role: 'viewer' });
  const { recording } = await host.signaling.request('start-recording', {});
  await sleep(4000);
  const pid = await eventually(
    () => {
      const pids = childrenWith(recording.recording_id);
      return pids.length === 1 ? pids[0] : undefined;
    },
    5000,
    'the ffmpeg child',
  );
  process.kill(pid!, 'SIGKILL');

  const finished = await viewer.client.next('recording-finished', () => true, 30_000);
  assert.is(finished.recording_id, recording.recording_id);
  assert.is(finished.status, 'failed');
  assert.is(finished.reason, 'failed');
  assert.match(String(finished.error), /killed by SIGKILL/);
  const hook = await ctx.hooks.wait('recording_finished', room);
  assert.is(hook.recording.status, 'failed');
  assert.match(hook.recording.error!, /SIGKILL/);

  const { body } = await ctx.srv.api('GET', `/api/v1/recordings/${recording.recording_id}`);
  assert.is(body.status, 'failed');
  assert.is(body.files.length, 1);
  const file = body.files[0];
  assert.is(file.status, 'failed');
  assert.ok(file.size_bytes > 0, 'partial file kept');
  const partial = await probe(path.join(ctx.srv.dataDir, 'recordings', recording.recording_id, file.name));
  const video = partial.streams.find((s) => s.codec_type === 'video');
  assert.ok(video && video.frames > 10, `partial file has video frames (${video?.frames})`);

  // Operators see it in the metrics.
  const metrics = String((await ctx.srv.api('GET', '/metrics')).body);
  assert.match(metrics, /switchboard_recording_files_total\{result="crashed"\} 1/);
  assert.match(metrics, /switchboard_recordings_finished_total\{status="failed",reason="failed"\} 1/);

  // The call goes on: a new subscriber decodes the host's video, and a new recording can start.
  const sub = await publisher(ctx, 'sub', room, { audio: false, video: false });
  const track = await sub.consume([...host.producers.values()].find((p) => p.kind === 'video')!.id);
  await eventually(() => track.frames >= 5, 15_000, 'frames after the crash');
  const again = await host.signaling.request('start-recording', {});
  assert.is.not(again.recording.recording_id, recording.recording_id);
  await sleep(2000);
  assert.is((await host.signaling.request('stop-recording', {}, 30_000)).status, 'ready');
});

test('disk nearly full: no start, and a running recording stops as failed (disk-full)', async (ctx) => {
  const room = 'fail-disk';
  const host = await publisher(ctx, 'h', room, { role: 'host', video: false });
  const cfg = ctx.srv.app.config.recording;
  const saved = cfg.minFreeMb;
  try {
    cfg.minFreeMb = 10_000_000; // more than this disk has: "nearly full" from the service's point of view
    const refused = await host.signaling.request('start-recording', {}).catch((e) => e);
    assert.is((refused as SignalingError).code, 'unavailable');
    assert.match((refused as SignalingError).message, /not enough disk space to record: \d+ MB free/);
    cfg.minFreeMb = saved;
    const { recording } = await host.signaling.request('start-recording', {});
    await sleep(2000);
    cfg.minFreeMb = 10_000_000;
    const finished = await host.signaling.next('recording-finished', () => true, 30_000);
    assert.is(finished.recording_id, recording.recording_id);
    assert.is(finished.status, 'failed');
    assert.is(finished.reason, 'disk-full');
    assert.match(String(finished.error), /disk is nearly full/);
    const { body } = await ctx.srv.api('GET', `/api/v1/recordings/${recording.recording_id}`);
    assert.is(body.status, 'failed');
    // What was written before is kept and readable.
    assert.is(body.files[0].status, 'ready');
    assert.ok(body.files[0].size_bytes > 0);
  } finally {
    cfg.minFreeMb = saved;
  }
});

test('no ffmpeg binary: the start is refused with a clear error', async (ctx) => {
  const room = 'fail-noffmpeg';
  const host = await publisher(ctx, 'h3', room, { role: 'host', video: false });
  const cfg = ctx.srv.app.config.recording;
  cfg.ffmpegPath = '/nonexistent/ffmpeg';
  try {
    const err = await host.signaling.request('start-recording', {}).catch((e) => e);
    assert.is((err as SignalingError).code, 'unavailable');
    assert.match((err as SignalingError).message, /ffmpeg binary not found.*FFMPEG_PATH/);
    const rest = await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings`, {});
    assert.is(rest.status, 503);
  } finally {
    cfg.ffmpegPath = null;
  }
});

test.run();
