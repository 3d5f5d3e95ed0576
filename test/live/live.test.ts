// Live streaming end to end: real libwebrtc bots publish synthetic media
// through the SFU, the room goes live, ffprobe plays the HLS playlist over
// HTTP while it is live (H.264 + AAC with frames), viewers are counted, chat
// and reactions reach the audience with rate limits and moderation, a killed
// ffmpeg fails the stream without touching the room, and an ended stream is
// persisted and reported by webhook.

import * as assert from 'uvu/assert';
import type { LiveStreamInfo } from '../../signaling/protocol/protocol.js';
import { eventually } from '../support/net.js';
import { liveSuite, ffprobeLive, host, untilStatus, watcher, type LiveHook } from '../support/live.js';

const test = liveSuite('live streaming');

test('go live: preparing -> live, ffprobe plays H.264/AAC from the playlist, viewers counted, everyone told', async (ctx) => {
  const { srv } = ctx;
  const room = 'live-main';
  const bot = await host(ctx, room);
  const viewerPart = await srv.joined('part-viewer', room, { role: 'viewer' });
  const tv = await watcher(ctx, 'tv-1', room);
  assert.is(tv.watched.stream, null, 'nothing live yet');

  // A viewer in the room may not go live; nothing changes.
  assert.is((await viewerPart.client.request('live-start', {}).catch((e) => e)).code, 'forbidden');
  assert.is(srv.app.live.current(room), null);

  const { stream } = await bot.signaling.request('live-start', {});
  assert.is(stream.status, 'preparing');
  assert.is(stream.participant_id, bot.participantId, 'the host publishing a camera is shown');
  for (const c of [viewerPart.client, tv.client]) await c.next('live-stream-updated', (p) => p.stream.status === 'preparing', 20_000);
  const live = await untilStatus(tv.client, 'live', stream.stream_id);
  assert.ok(live.stream.live_at);
  await untilStatus(viewerPart.client, 'live');
  const row = (
    await srv.app.db.query<{ status: string; participant_id: string }>(`SELECT status, participant_id FROM live_streams WHERE id = $1`, [
      stream.stream_id,
    ])
  )[0];
  assert.equal(row, { status: 'live', participant_id: bot.participantId });

  // A late joiner sees the stream in room_state.
  const late = await srv.joined('late', room, { role: 'speaker' });
  const joinedState = srv.app.rooms.getRoom(room)!.state();
  assert.is(joinedState.live?.stream_id, stream.stream_id);

  // Unsigned requests are refused; the watcher's signed URL plays.
  const again = await tv.client.request('live-watch', { room });
  assert.ok(again.playlist_url?.includes('token='));
  assert.is((await fetch(`${srv.url}/live/${room}/index.m3u8`)).status, 401);
  assert.is((await fetch(`${srv.url}/live/${room}/index.m3u8?token=forged.token`)).status, 401);
  const playlist = await (await fetch(`${srv.url}${again.playlist_url}`)).text();
  assert.match(playlist, /#EXTINF/);
  assert.match(playlist, /p0_\d+\.ts\?token=/, 'segment URIs carry the token');

  const streams = await ffprobeLive(`${srv.url}${again.playlist_url}`);
  const video = streams.find((s) => s.codec_type === 'video');
  const audio = streams.find((s) => s.codec_type === 'audio');
  assert.is(video?.codec_name, 'h264');
  assert.is(audio?.codec_name, 'aac');
  assert.ok(Number(video!.nb_read_frames) > 10, `video frames: ${video!.nb_read_frames}`);
  assert.ok(Number(audio!.nb_read_frames) > 10, `audio frames: ${audio!.nb_read_frames}`);
  assert.is(video!.width, 640);

  // Viewers: the WS watcher and its player (same user) count once; a second player from the app's URL makes two.
  const counted = await tv.client.next('live-viewers', (v) => v.current === 1 && v.total === 1, 20_000);
  assert.is(counted.peak, 1);
  const { body: minted } = await srv.api('POST', `/api/v1/rooms/${room}/live/urls`, { viewer_id: 'tv-2' });
  assert.is((await fetch(`${srv.url}${minted.playlist_url}`)).status, 200);
  const two = await tv.client.next('live-viewers', (v) => v.current === 2, 20_000);
  assert.equal([two.peak, two.total], [2, 2]);
  // A watcher who never plays counts while watching, and stops counting when it leaves.
  const chatOnly = await watcher(ctx, 'tv-3', room);
  await tv.client.next('live-viewers', (v) => v.current === 3 && v.peak === 3, 20_000);
  await chatOnly.client.request('live-unwatch', {});
  assert.equal(await tv.client.next('live-viewers', (v) => v.current === 2, 20_000), {
    stream_id: stream.stream_id,
    current: 2,
    peak: 3,
    total: 3,
  });
  await eventually(
    async () => {
      const r = await srv.app.db.query<{ viewers_current: number; viewers_peak: number; viewers_total: number }>(
        `SELECT viewers_current, viewers_peak, viewers_total FROM live_streams WHERE id = $1`,
        [stream.stream_id],
      );
      return r[0].viewers_current === 2 && r[0].viewers_peak === 3 && r[0].viewers_total === 3;
    },
    20_000,
    'counts persisted',
  );

  // Operators see it in /metrics.
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, /switchboard_live_streams\{status="live"\} 1/);
  assert.match(metrics, /switchboard_live_viewers 2/);

  // The room's REST view of the stream.
  const { status, body } = await srv.api('GET', `/api/v1/rooms/${room}/live`);
  assert.is(status, 200);
  assert.is(body.stream.status, 'live');
  assert.is(body.stream.viewers.peak, 3);
  await chatOnly.client.close();
  await late.client.close();
  await viewerPart.client.close();
  await tv.client.close();
});

test('chat: rate limited per user, moderation (delete, pin) with permissions, history for a late viewer', async (ctx) => {
  const { srv } = ctx;
  const room = 'live-main'; // still live from the previous test
  const bot = ctx.bots[0];
  const a = await watcher(ctx, 'alice', room);
  const b = await watcher(ctx, 'bob', room);
  const mod = await watcher(ctx, 'mod', room, 'moderator');

  const first = await a.client.request('live-chat', { text: '  hello  ' });
  assert.is(first.message.text, 'hello');
  for (const c of [b.client, mod.client, bot.signaling]) {
    const got = await c.next('live-chat-message', (m) => m.message.message_id === first.message.message_id, 20_000);
    assert.equal(got.message, first.message);
  }
  // Burst 3 per user: two more pass, the fourth is refused with rate_limited; another user is unaffected.
  await a.client.request('live-chat', { text: 'two' });
  const third = await a.client.request('live-chat', { text: 'three' });
  const refused = await a.client.request('live-chat', { text: 'four' }).catch((e) => e);
  assert.is(refused.code, 'rate_limited');
  const bobs = await b.client.request('live-chat', { text: 'from bob' });
  const rows = await srv.app.db.query<{ text: string }>(`SELECT text FROM live_chat_messages WHERE user_id = 'alice' ORDER BY id`);
  assert.equal(
    rows.map((r) => r.text),
    ['hello', 'two', 'three'],
    'the refused message was not stored',
  );
  // Bad input: blank text, a bad id.
  assert.is((await b.client.request('live-chat', { text: '   ' }).catch((e) => e)).code, 'invalid_payload');
  assert.is((await b.client.request('live-chat-delete', { message_id: 'x' }).catch((e) => e)).code, 'invalid_payload');

  // A viewer can delete their own message but not others', and cannot pin.
  assert.is((await b.client.request('live-chat-delete', { message_id: first.message.message_id }).catch((e) => e)).code, 'forbidden');
  assert.is((await b.client.request('live-chat-pin', { message_id: bobs.message.message_id }).catch((e) => e)).code, 'forbidden');
  await b.client.request('live-chat-delete', { message_id: bobs.message.message_id });
  await a.client.next('live-chat-deleted', (d) => d.message_id === bobs.message.message_id, 20_000);

  // A moderator pins, then deletes the pinned message: it is unpinned for everyone.
  const pinned = await mod.client.request('live-chat-pin', { message_id: third.message.message_id });
  assert.is(pinned.message.text, 'three');
  assert.is((await a.client.next('live-chat-pinned', () => true, 20_000)).message?.message_id, third.message.message_id);
  const pinRow = await srv.app.db.query<{ pinned_message_id: string }>(
    `SELECT pinned_message_id::text AS pinned_message_id FROM live_streams WHERE room = $1 AND status = 'live'`,
    [room],
  );
  assert.is(pinRow[0].pinned_message_id, third.message.message_id);

  // A late viewer gets the recent messages (not the deleted one) and the pinned one.
  const late = await watcher(ctx, 'late-viewer', room);
  assert.equal(
    late.watched.chat.map((m) => m.text),
    ['hello', 'two', 'three'],
  );
  assert.is(late.watched.pinned?.message_id, third.message.message_id);

  await mod.client.request('live-chat-delete', { message_id: third.message.message_id });
  assert.equal(await a.client.next('live-chat-deleted', (d) => d.message_id === third.message.message_id, 20_000), {
    stream_id: late.watched.stream!.stream_id,
    message_id: third.message.message_id,
    by: 'mod',
  });
  assert.equal(await a.client.next('live-chat-pinned', (p) => p.message === null, 20_000), {
    stream_id: late.watched.stream!.stream_id,
    message: null,
    by: 'mod',
  });
  const deleted = await srv.app.db.query<{ deleted_by: string }>(`SELECT deleted_by FROM live_chat_messages WHERE id = $1::bigint`, [
    third.message.message_id,
  ]);
  assert.is(deleted[0].deleted_by, 'mod');
  // REST sees the same history and may delete too.
  const { body } = await srv.api('GET', `/api/v1/rooms/${room}/live/chat`);
  assert.equal(
    body.messages.map((m: { text: string }) => m.text),
    ['hello', 'two'],
  );
  assert.is(body.pinned, null);
  assert.is((await srv.api('DELETE', `/api/v1/rooms/${room}/live/chat/${first.message.message_id}`)).status, 200);
  assert.is((await srv.api('DELETE', `/api/v1/rooms/${room}/live/chat/${first.message.message_id}`)).status, 404);
  for (const c of [a, b, mod, late]) await c.client.close();
});

test('reactions: aggregated per interval, rate limited per user', async (ctx) => {
  const room = 'live-main';
  const viewers = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((u) => watcher(ctx, u, room)));
  // Each sends its burst (5); a sixth is refused.
  await Promise.all(
    viewers.flatMap((v) =>
      ['heart', 'fire', 'heart', 'clap', 'wow'].map((r) => v.client.request('live-react', { reaction: r as 'heart' })),
    ),
  );
  assert.is((await viewers[0].client.request('live-react', { reaction: 'sad' }).catch((e) => e)).code, 'rate_limited');
  assert.is((await viewers[0].client.request('live-react', { reaction: 'nope' as 'sad' }).catch((e) => e)).code, 'invalid_payload');
  // Every viewer gets the 20 reactions in a few aggregated messages, not 20.
  for (const v of viewers) {
    const counts: Record<string, number> = {};
    let messages = 0;
    let largest = 0;
    while ((counts['heart'] ?? 0) < 8 || (counts['fire'] ?? 0) < 4 || (counts['clap'] ?? 0) < 4 || (counts['wow'] ?? 0) < 4) {
      const batch = await v.client.next('live-reactions', () => true, 20_000);
      messages++;
      const size = Object.values(batch.counts).reduce((a, b) => a + b, 0);
      largest = Math.max(largest, size);
      assert.equal(
        batch.totals,
        { ...counts, ...Object.fromEntries(Object.entries(batch.counts).map(([k, n]) => [k, (counts[k] ?? 0) + n])) },
        'totals so far',
      );
      for (const [k, n] of Object.entries(batch.counts)) counts[k] = (counts[k] ?? 0) + n;
    }
    assert.equal(counts, { heart: 8, fire: 4, clap: 4, wow: 4 });
    // Batched, not relayed: fewer messages than reactions, several reactions in one (at most one message per 300 ms interval).
    assert.ok(messages < 20 && largest >= 2, `${messages} reaction messages for 20 reactions (largest ${largest})`);
  }
  for (const v of viewers) await v.client.close();
});

test('ffmpeg killed: the stream fails (webhook, everyone told), the room goes on; it can go live again', async (ctx) => {
  const { srv } = ctx;
  const room = 'live-main';
  const bot = ctx.bots[0];
  const stream = srv.app.live.current(room)!;
  const pid = stream.pipeline!.pid!;
  process.kill(pid, 'SIGKILL');
  const failed = await bot.signaling.next('live-stream-updated', (p) => p.stream.status === 'failed', 20_000);
  assert.is(failed.stream.end_reason, 'ffmpeg-failed');
  assert.match(failed.stream.error ?? '', /SIGKILL/);
  const hook = (await eventually(
    () => ctx.hooks.find((h) => h.event === 'live_stream_finished' && h.body.stream.stream_id === stream.id),
    15_000,
    'webhook',
  )) as LiveHook;
  assert.is(hook.body.stream.status, 'failed');
  assert.ok(ctx.hooks.some((h) => h.event === 'live_stream_started' && h.body.stream.stream_id === stream.id));
  // The room is untouched: the host is still in it, still publishing, and may go live again.
  const theRoom = srv.app.rooms.getRoom(room)!;
  assert.ok(theRoom.participants.has(bot.participantId));
  assert.is(theRoom.media!.producerList().length, 2);
  assert.is(theRoom.state().live, null);
  await bot.signaling.request('ping', {});
  const { body } = await srv.api('POST', `/api/v1/rooms/${room}/live`, {});
  assert.is(body.stream.status, 'preparing');
  await untilStatus(bot.signaling, 'live', body.stream.stream_id);
});

test('end: REST stop ends the stream (ENDLIST, row, webhook with counts); chat is refused afterwards', async (ctx) => {
  const { srv } = ctx;
  const room = 'live-main';
  const bot = ctx.bots[0];
  const current = srv.app.live.current(room)!;
  const viewer = await watcher(ctx, 'last-viewer', room);
  const url = viewer.watched.playlist_url!;
  const { status, body } = await srv.api('POST', `/api/v1/rooms/${room}/live/stop`);
  assert.is(status, 200);
  assert.is(body.stream.status, 'ended');
  assert.is(body.stream.end_reason, 'stopped');
  assert.is((await viewer.client.next('live-stream-updated', (p) => p.stream.status === 'ended', 20_000)).stream.stream_id, current.id);
  await bot.signaling.next('live-stream-updated', (p) => p.stream.status === 'ended' && p.stream.stream_id === current.id, 20_000);
  // Players can still fetch the finished playlist for a while; it is closed.
  const finalList = await (await fetch(`${srv.url}${url}`)).text();
  assert.match(finalList, /#EXT-X-ENDLIST/, finalList);
  const row = (
    await srv.app.db.query<{ status: string; end_reason: string; ended_at: Date; viewers_total: number }>(
      `SELECT status, end_reason, ended_at, viewers_total FROM live_streams WHERE id = $1`,
      [current.id],
    )
  )[0];
  assert.is(row.status, 'ended');
  assert.is(row.end_reason, 'stopped');
  assert.ok(row.ended_at);
  assert.is(row.viewers_total, 1);
  const hook = (await eventually(
    () => ctx.hooks.find((h) => h.event === 'live_stream_finished' && h.body.stream.stream_id === current.id),
    15_000,
    'webhook',
  )) as LiveHook;
  assert.is(hook.body.stream.status, 'ended');
  assert.is(hook.body.stream.viewers.total, 1);
  assert.is((await viewer.client.request('live-chat', { text: 'too late' }).catch((e) => e)).code, 'conflict');
  assert.is((await srv.api('POST', `/api/v1/rooms/${room}/live/stop`)).status, 404);
  const { body: list } = await srv.api('GET', `/api/v1/rooms/${room}/live/streams`);
  assert.equal(
    list.streams.map((s: LiveStreamInfo) => s.status),
    ['ended', 'failed'],
  );
  await viewer.client.close();
});

test.run();
