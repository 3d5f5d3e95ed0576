// Participants coming and going during a recording: a leaver's file ends
// when they leave, a paused camera rolls the participant's segments, and a
// server killed mid-recording leaves a failed recording (partial file kept)
// that the next start reports.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { probe } from '../support/media.js';
import { eventually, sleep } from '../support/net.js';
import { spawnServer } from '../support/process.js';
import { publisher, recordingSuite, type BotPool, type RecordingFile, type RecordingTrack } from '../support/recording.js';
import { basicAuth, startServer } from '../support/server.js';

const test = recordingSuite('recording lifecycle');

const files = async (ctx: BotPool, id: string) => (await ctx.srv.api('GET', `/api/v1/recordings/${id}`)).body;

test('a participant who leaves mid-recording: their file ends then, the others go on', async (ctx) => {
  const room = 'life-leave';
  const stay = await publisher(ctx, 'stay', room);
  const leave = await publisher(ctx, 'leave', room);
  const { body: rec } = await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings`, {});
  await sleep(3000);
  const leftAt = Date.now();
  await leave.close();
  // The leaver's file is finalized at once (RTCP BYE ends ffmpeg's input), long before the recording stops.
  const done = await eventually(
    async () => {
      const body = await files(ctx, rec.recording_id);
      return body.files.find((f: RecordingFile) => f.user_id === 'leave' && f.status === 'ready');
    },
    10_000,
    "the leaver's file ready",
  );
  assert.ok(new Date(done.ended_at).getTime() - leftAt < 5000, `ended ${new Date(done.ended_at).getTime() - leftAt} ms after the leave`);
  await sleep(3000);
  const { body } = await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings/stop`);
  assert.is(body.status, 'ready');
  const byUser = Object.fromEntries(body.files.map((f: RecordingFile) => [f.user_id, f]));
  assert.ok(
    byUser.stay.duration_seconds > byUser.leave.duration_seconds + 1.5,
    `stay ${byUser.stay.duration_seconds}s, leave ${byUser.leave.duration_seconds}s`,
  );
  void stay;
});

test('muting the camera (a paused producer) rolls to an audio-only segment, unmuting back', async (ctx) => {
  const room = 'life-pause';
  const bot = await publisher(ctx, 'p', room);
  const host = await ctx.srv.joined('host', room, { role: 'host' });
  const { recording } = await host.client.request('start-recording', {});
  await sleep(3000);
  await bot.signaling.request('mute', { track: 'video' });
  await sleep(3000);
  await bot.signaling.request('unmute', { track: 'video' });
  await sleep(3000);
  await host.client.request('stop-recording', {});
  const body = await files(ctx, recording.recording_id);
  const segments = body.files.filter((f: RecordingFile) => f.user_id === 'p').sort((a: RecordingFile, b: RecordingFile) => a.seq - b.seq);
  assert.equal(
    segments.map((f: RecordingFile) => f.tracks.map((t: RecordingTrack) => t.kind).join('+')),
    ['audio+video', 'audio', 'audio+video'],
  );
  for (const f of segments) {
    assert.is(f.status, 'ready', `${f.name}: ${f.error}`);
    const probed = await probe(path.join(ctx.srv.dataDir, 'recordings', recording.recording_id, f.name));
    assert.equal(probed.streams.map((s) => s.codec_type).sort(), f.tracks.map((t: RecordingTrack) => t.kind).sort());
    assert.ok(
      probed.streams.every((s) => s.frames > 0),
      `${f.name} has media in every stream`,
    );
  }
});

test('a server killed mid-recording: the next start marks it failed and keeps the partial file', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-rec-crash-'));
  const child = await spawnServer({ DATA_DIR: dataDir, RTC_WORKERS: '1', RTC_PORT: '0', RTC_LISTEN_IP: '127.0.0.1' });
  let id: string;
  let bot: MediaBot | null = null;
  try {
    const token = await (await startTokenIssuer())('crash-pub');
    bot = await MediaBot.join(child.url, token, 'life-crash');
    await bot.publishAudio();
    const res = await fetch(`${child.url}/api/v1/rooms/life-crash/recordings`, {
      method: 'POST',
      headers: { authorization: basicAuth(), 'content-type': 'application/json' },
      body: '{}',
    });
    assert.is(res.status, 201);
    id = ((await res.json()) as { recording_id: string }).recording_id;
    await sleep(4000);
    child.child.kill('SIGKILL');
    await child.exited;
    // Its ffmpeg outlives it (it would end after 10 s of silence): end it, found by our unique data dir.
    for (const pid of processesMentioning(dataDir)) process.kill(pid, 'SIGKILL');
  } finally {
    child.child.kill('SIGKILL');
    await bot?.close().catch(() => {});
  }
  const srv = await startServer({ dataDir });
  try {
    const { body } = await srv.api('GET', `/api/v1/recordings/${id}`);
    assert.is(body.status, 'failed');
    assert.is(body.end_reason, 'server-restart');
    assert.match(body.error, /server stopped while recording/);
    assert.is(body.files.length, 1);
    assert.is(body.files[0].status, 'failed');
    const file = path.join(dataDir, 'recordings', id, body.files[0].name);
    assert.ok(existsSync(file));
    assert.ok(body.files[0].size_bytes > 0, 'partial file size recorded');
  } finally {
    await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** Processes whose command line contains `needle` (a temp path only this test made). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** Mints tokens with the test key pair (the child server trusts it). */
async function startTokenIssuer() {
  const { TokenIssuer } = await import('../../server/edges/auth/tokens.js');
  const { testKeys } = await import('../support/keys.js');
  const issuer = await TokenIssuer.fromPrivateKeyFile(testKeys().privateKeyFile, { audience: 'switchboard', issuer: null });
  return async (userId: string) => (await issuer.mint({ userId, role: 'speaker', ttlSeconds: 600 })).token;
}

test.run();
