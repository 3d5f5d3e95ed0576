// Recordings through the REST API: start/stop by the backend, list and fetch,
// download links (signed, expiring), participant access, retention cleanup,
// and rooms that record automatically.

import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { probe } from '../support/media.js';
import { eventually, sleep } from '../support/net.js';
import { publisher, recordingSuite, type BotPool, type RecordingFile } from '../support/recording.js';

const test = recordingSuite('recordings over REST', { env: { RECORDING_AUTO_ROOM_TYPES: 'webinar' } });

/** Records `room` for about `seconds` through REST; returns the stopped recording's body. */
async function recordFor(ctx: BotPool, room: string, seconds: number, body: Record<string, unknown> = {}) {
  const started = await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings`, body);
  assert.is(started.status, 201, JSON.stringify(started.body));
  assert.is(started.body.status, 'recording');
  await sleep(seconds * 1000);
  const stopped = await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings/stop`);
  assert.is(stopped.status, 200, JSON.stringify(stopped.body));
  return stopped.body;
}

test('start and stop over REST; download through a signed link that expires', async (ctx) => {
  const room = 'rest-rec';
  const bot = await publisher(ctx, 'alice', room);
  const rec = await recordFor(ctx, room, 4, { retention_days: 7, access: { users: ['bob'] }, metadata: { case: 42 } });
  assert.is(rec.status, 'ready');
  assert.is(rec.started_by, 'api');
  // The call says it was recorded.
  const call = await ctx.srv.api('GET', `/calls/${rec.call_id}`);
  assert.is(call.status, 200);
  assert.is(call.body.recording, true);
  assert.is(rec.retention_days, 7);
  assert.equal(rec.metadata, { case: 42 });
  const expires = new Date(rec.expires_at).getTime() - new Date(rec.ended_at).getTime();
  assert.is(Math.round(expires / 86_400_000), 7);
  assert.is(rec.files.length, 1);
  const file = rec.files[0];
  assert.is(file.participant_id, bot.participantId);
  assert.equal(file.streams.map((s: RecordingFile['streams'][number]) => s.codec_name).sort(), ['opus', 'vp8']);
  assert.ok(file.duration_seconds > 2, `duration ${file.duration_seconds}`);

  // Listed for the room and overall.
  const listed = await ctx.srv.api('GET', `/api/v1/rooms/${room}/recordings`);
  assert.equal(
    listed.body.recordings.map((r: { recording_id: string }) => r.recording_id),
    [rec.recording_id],
  );
  const ready = await ctx.srv.api('GET', '/api/v1/recordings?status=ready&room=rest-rec');
  assert.is(ready.body.recordings.length, 1);
  assert.is((await ctx.srv.api('GET', '/api/v1/recordings?status=nope')).status, 400);
  assert.is((await ctx.srv.api('GET', `/api/v1/recordings/${rec.recording_id}`, undefined, null)).status, 401);

  // A signed link downloads the very bytes ffmpeg wrote, without any credentials.
  const link = await ctx.srv.api('GET', `/api/v1/recordings/${rec.recording_id}/files/${file.file_id}/download-url?ttl=120`);
  assert.is(link.status, 200);
  const res = await fetch(link.body.url);
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'video/webm');
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.is(bytes.length, file.size_bytes);
  const copy = path.join(tmpdir(), `dl-${rec.recording_id}.webm`);
  writeFileSync(copy, bytes);
  assert.equal((await probe(copy)).streams.map((s) => s.codec_name).sort(), ['opus', 'vp8']);
  // A byte range, as players ask.
  const part = await fetch(link.body.url, { headers: { range: 'bytes=0-99' } });
  assert.is(part.status, 206);
  assert.is((await part.arrayBuffer()).byteLength, 100);
  // Tampered: refused. Expired: refused with a message saying so.
  // Another first character (a fixed 'A' changed nothing when the signature began with 'A').
  const tampered = await fetch(link.body.url.replace(/signature=(.)/, (_m: string, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`));
  assert.is(tampered.status, 403);
  const short = await ctx.srv.api('GET', `/api/v1/recordings/${rec.recording_id}/files/${file.file_id}/download-url?ttl=1`);
  await sleep(2200);
  const expired = await fetch(short.body.url);
  assert.is(expired.status, 403);
  assert.match((await expired.json()).error.message, /expired/);

  // Without a link: the API key, or a token of a user the recording is shared with.
  const contentPath = `/api/v1/recordings/${rec.recording_id}/files/${file.file_id}/content`;
  const withKey = await fetch(`${ctx.srv.url}${contentPath}`, {
    headers: { authorization: `Basic ${Buffer.from('APItestkey:test-secret-0123456789abcdef').toString('base64')}` },
  });
  assert.is(withKey.status, 200);
  assert.is((await withKey.arrayBuffer()).byteLength, file.size_bytes);
  const bob = await ctx.srv.mint({ userId: 'bob', role: 'viewer' });
  const carol = await ctx.srv.mint({ userId: 'carol', role: 'viewer' });
  assert.is((await fetch(`${ctx.srv.url}${contentPath}`, { headers: { authorization: `Bearer ${bob}` } })).status, 200);
  assert.is((await fetch(`${ctx.srv.url}${contentPath}`, { headers: { authorization: `Bearer ${carol}` } })).status, 403);
  assert.is((await ctx.srv.api('GET', `/api/v1/recordings/${rec.recording_id}`, undefined, `Bearer ${bob}`)).status, 200);
  assert.is((await ctx.srv.api('GET', `/api/v1/recordings/${rec.recording_id}`, undefined, `Bearer ${carol}`)).status, 403);
  // Room staff may (room_staff defaults to true); a host token of another room may not.
  const host = await ctx.srv.mint({ userId: 'h', role: 'host', room });
  const otherHost = await ctx.srv.mint({ userId: 'h', role: 'host', room: 'elsewhere' });
  assert.is((await fetch(`${ctx.srv.url}${contentPath}`, { headers: { authorization: `Bearer ${host}` } })).status, 200);
  assert.is((await fetch(`${ctx.srv.url}${contentPath}`, { headers: { authorization: `Bearer ${otherHost}` } })).status, 403);
  assert.is((await fetch(`${ctx.srv.url}${contentPath}`)).status, 401);
});

test('REST refuses what it should: no call, disallowed room, twice, unknown ids', async (ctx) => {
  assert.is((await ctx.srv.api('POST', '/api/v1/rooms/nobody-here/recordings', {})).status, 404);
  const created = await ctx.srv.api('POST', '/api/v1/rooms', { name: 'no-rec', recording_allowed: false });
  assert.is(created.status, 201);
  await publisher(ctx, 'x', 'no-rec', { video: false });
  const refused = await ctx.srv.api('POST', '/api/v1/rooms/no-rec/recordings', {});
  assert.is(refused.status, 403);
  assert.is(refused.body.error.code, 'forbidden');
  await publisher(ctx, 'y', 'twice', { video: false });
  assert.is((await ctx.srv.api('POST', '/api/v1/rooms/twice/recordings', { mode: 'nope' })).status, 400);
  assert.is((await ctx.srv.api('POST', '/api/v1/rooms/twice/recordings', {})).status, 201);
  const again = await ctx.srv.api('POST', '/api/v1/rooms/twice/recordings', {});
  assert.is(again.status, 409);
  const busy = await ctx.srv.api('GET', '/api/v1/recordings?status=recording&room=twice');
  const id = busy.body.recordings[0].recording_id;
  assert.is((await ctx.srv.api('DELETE', `/api/v1/recordings/${id}`)).status, 409); // in progress
  // Stopped before ffmpeg wrote any media, a recording is rightly `failed` (nothing could be read): wait
  // for audio in its file, past the ~0.5 KB header ffmpeg writes at once (stopping at once failed here).
  const dir = path.join(ctx.srv.dataDir, 'recordings', id);
  await eventually(
    () =>
      readdirSync(dir).some((f) => {
        const st = statSync(path.join(dir, f));
        return st.isFile() && st.size > 4096;
      }),
    30_000,
    'audio in the file',
  );
  const stopped = await ctx.srv.api('POST', `/api/v1/recordings/${id}/stop`);
  assert.is(stopped.status, 200);
  assert.is(stopped.body.status, 'ready', JSON.stringify(stopped.body));
  assert.is((await ctx.srv.api('POST', '/api/v1/rooms/twice/recordings/stop')).status, 404);
  assert.is((await ctx.srv.api('GET', '/api/v1/recordings/00000000-0000-0000-0000-000000000000')).status, 404);
  assert.is((await ctx.srv.api('GET', '/api/v1/recordings/not-a-uuid')).status, 404);
  // Without credentials a missing recording is 401 like any other (and the server stays up).
  assert.is((await ctx.srv.api('GET', '/api/v1/recordings/00000000-0000-0000-0000-000000000000', undefined, null)).status, 401);
  assert.is(
    (
      await ctx.srv.api(
        'GET',
        '/api/v1/recordings/00000000-0000-0000-0000-000000000000/files/00000000-0000-0000-0000-000000000000/download-url',
        undefined,
        null,
      )
    ).status,
    401,
  );
  assert.is((await ctx.srv.api('GET', '/health')).status, 200);
});

test('retention: an expired recording is deleted, files and rows; delete removes one now', async (ctx) => {
  await publisher(ctx, 'ret', 'retention', { video: false });
  const old = await recordFor(ctx, 'retention', 2, { retention_days: 1 });
  const keep = await recordFor(ctx, 'retention', 2, { retention_days: null });
  assert.is(keep.expires_at, null);
  const dir = path.join(ctx.srv.dataDir, 'recordings', old.recording_id);
  assert.ok(existsSync(path.join(dir, old.files[0].name)));
  // Nothing has expired yet.
  assert.equal((await ctx.srv.api('POST', '/api/v1/recordings/cleanup')).body, { deleted: 0 });
  // A day and a bit later (the row's clock moved back instead of ours forward).
  await ctx.srv.app.db.query(
    `UPDATE recordings SET ended_at = ended_at - interval '25 hours', expires_at = expires_at - interval '25 hours' WHERE id = $1`,
    [old.recording_id],
  );
  assert.equal((await ctx.srv.api('POST', '/api/v1/recordings/cleanup')).body, { deleted: 1 });
  assert.not.ok(existsSync(dir), 'files deleted');
  assert.is((await ctx.srv.api('GET', `/api/v1/recordings/${old.recording_id}`)).status, 404);
  assert.is((await ctx.srv.app.db.query('SELECT id FROM recording_files WHERE recording_id = $1', [old.recording_id])).length, 0);
  assert.is((await ctx.srv.api('GET', `/api/v1/recordings/${keep.recording_id}`)).status, 200);
  // PATCH retention: expiry follows the recording's end.
  const patched = await ctx.srv.api('PATCH', `/api/v1/recordings/${keep.recording_id}`, {
    retention_days: 3,
    access: { room_staff: false },
  });
  assert.is(patched.status, 200);
  assert.is(Math.round((new Date(patched.body.expires_at).getTime() - new Date(patched.body.ended_at).getTime()) / 86_400_000), 3);
  assert.equal(patched.body.access, { users: [], room_staff: false });
  // Delete now.
  assert.is((await ctx.srv.api('DELETE', `/api/v1/recordings/${keep.recording_id}`)).status, 200);
  assert.not.ok(existsSync(path.join(ctx.srv.dataDir, 'recordings', keep.recording_id)));
  assert.is((await ctx.srv.api('GET', `/api/v1/recordings/${keep.recording_id}`)).status, 404);
});

test('automatic recording: a webinar (RECORDING_AUTO_ROOM_TYPES) and a room whose metadata asks for it', async (ctx) => {
  assert.is((await ctx.srv.api('POST', '/api/v1/rooms', { name: 'auto-webinar', type: 'webinar' })).status, 201);
  assert.is((await ctx.srv.api('POST', '/api/v1/rooms', { name: 'auto-meta', metadata: { auto_record: true } })).status, 201);
  assert.is(
    (await ctx.srv.api('POST', '/api/v1/rooms', { name: 'auto-off', type: 'webinar', metadata: { auto_record: false } })).status,
    201,
  );
  for (const room of ['auto-webinar', 'auto-meta', 'auto-off']) {
    const watcher = await ctx.srv.joined(`w-${room}`, room, { role: 'viewer' });
    await publisher(ctx, `p-${room}`, room, { role: 'host', video: false });
    if (room === 'auto-off') {
      await sleep(1500);
      assert.is(ctx.srv.app.recording.activeIn(room), null);
      continue;
    }
    const started = await watcher.client.next('recording-started', () => true, 15_000);
    assert.is(started.started_by, 'auto');
    await eventually(() => ctx.srv.app.recording.activeIn(room), 5000, 'active recording');
  }
  await sleep(2000);
  for (const room of ['auto-webinar', 'auto-meta']) {
    const stopped = await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings/stop`);
    assert.is(stopped.body.status, 'ready');
    assert.ok(stopped.body.files.length >= 1);
  }
});

test.run();
