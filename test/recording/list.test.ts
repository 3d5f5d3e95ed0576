// list-recordings over the WebSocket: a room's hosts and moderators see its
// recordings with signed download links that fetch the files without any
// credentials; speakers and viewers are refused; other rooms' recordings stay
// out; a bad payload is refused and changes nothing.

import * as assert from 'uvu/assert';
import { SignalingError } from '../../clients/node/signalingClient.js';
import { sleep } from '../support/net.js';
import { publisher, recordingSuite } from '../support/recording.js';

const test = recordingSuite('list-recordings');

test("staff list the room's recordings; the download links fetch the files; others are refused", async (ctx) => {
  const room = 'rec-list';
  const host = await publisher(ctx, 'host', room, { role: 'host', video: false });
  const speaker = await publisher(ctx, 'speaker', room);
  const viewer = await ctx.srv.joined('viewer', room, { role: 'viewer' });
  const mod = await ctx.srv.joined('mod', room, { role: 'moderator' });

  // Nothing recorded yet.
  assert.equal((await host.signaling.request('list-recordings', {})).recordings, []);

  const { recording } = await host.signaling.request('start-recording', {});
  // While recording: listed, but its files have no link yet.
  const during = await mod.client.request('list-recordings', {});
  assert.is(during.recordings.length, 1);
  assert.is(during.recordings[0].recording_id, recording.recording_id);
  assert.is(during.recordings[0].status, 'recording');
  for (const f of during.recordings[0].files) assert.is(f.download_url, null);
  await sleep(2500); // a couple of seconds of media in the files
  await host.signaling.request('stop-recording', {}, 30_000);

  // Another room's recording is not listed for this room's staff.
  const other = await publisher(ctx, 'other-host', 'rec-list-other', { role: 'host', video: false });
  await other.signaling.request('start-recording', {});
  await sleep(500);
  await other.signaling.request('stop-recording', {}, 30_000);

  const before = Date.now();
  const listed = await host.signaling.request('list-recordings', {});
  assert.is(listed.recordings.length, 1, 'only this room');
  const [rec] = listed.recordings;
  assert.is(rec.recording_id, recording.recording_id);
  assert.is(rec.status, 'ready');
  assert.is(rec.mode, 'tracks');
  assert.is(rec.started_by, 'host');
  assert.is(rec.end_reason, 'stopped');
  assert.ok(rec.size_bytes > 0, `size ${rec.size_bytes}`);
  assert.ok((rec.duration_seconds ?? 0) > 1, `duration ${rec.duration_seconds}`);
  assert.ok(Date.parse(listed.urls_expire_at) > before + 60_000, listed.urls_expire_at);
  assert.equal(rec.files.map((f) => f.user_id).sort(), ['host', 'speaker']);

  for (const f of rec.files) {
    assert.is(f.status, 'ready');
    assert.ok(f.download_url, `file ${f.name} has a link`);
    assert.match(f.download_url, /^\/api\/v1\/recordings\/[0-9a-f-]{36}\/files\/[0-9a-f-]{36}\/content\?expires=\d+&signature=/);
    // No credentials: the signature is the permission.
    const res = await fetch(new URL(f.download_url, ctx.srv.url));
    assert.is(res.status, 200);
    assert.is(res.headers.get('content-type'), f.content_type);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.is(bytes.length, f.size_bytes);
    assert.equal([...bytes.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3], 'a WebM (EBML) file');
    // A tampered link is refused (its signature's first character changed, whatever it was).
    const tampered = f.download_url.replace(/signature=(.)/, (_, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`);
    const forged = await fetch(new URL(tampered, ctx.srv.url));
    assert.is(forged.status, 403);
  }

  // Speakers and viewers may not list.
  for (const client of [speaker.signaling, viewer.client]) {
    const err = await client.request('list-recordings', {}).catch((e: unknown) => e);
    assert.instance(err, SignalingError);
    assert.is((err as SignalingError).code, 'forbidden');
  }
  // A bad limit is refused.
  const bad = await host.signaling.request('list-recordings', { limit: 0 }).catch((e: unknown) => e);
  assert.is((bad as SignalingError).code, 'invalid_payload');
  // limit bounds the list.
  const limited = await host.signaling.request('list-recordings', { limit: 1 });
  assert.is(limited.recordings.length, 1);
});

test('outside a room: not_in_room', async (ctx) => {
  const client = await ctx.srv.connect();
  await client.request('auth', { token: await ctx.srv.mint({ userId: 'lone', role: 'host' }) });
  const err = await client.request('list-recordings', {}).catch((e: unknown) => e);
  assert.is((err as SignalingError).code, 'not_in_room');
});

test.run();
