// Cluster x live streaming: a stream's HLS files live on its room's node, but
// a player behind a load balancer may reach any node. The other node fetches
// playlist and segments from the room's node; ffprobe plays the stream
// through it. Real nodes, Redis, PostgreSQL, libwebrtc bot and ffmpeg.

import { execFile } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/net.js';

const test = suite<{ cluster: TestCluster; bots: MediaBot[] }>('cluster hls', { bots: [] } as never);

test.before(async (ctx) => {
  ctx.bots = [];
  ctx.cluster = await startCluster(['hls-a', 'hls-b'], { sfuWorkers: 1, env: { LIVE_SEGMENT_SECONDS: '1' } });
});
test.after(async (ctx) => {
  for (const b of ctx.bots) await b.close().catch(() => {});
  await ctx.cluster.stop();
});

function ffprobe(url: string): Promise<Array<{ codec_type: string; codec_name: string; nb_read_frames?: string }>> {
  return new Promise((resolve, reject) => {
    execFile(
      'ffprobe',
      ['-v', 'error', '-read_intervals', '%+3', '-count_frames', '-show_streams', '-of', 'json', url],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`ffprobe failed: ${stderr || err.message}`));
        resolve(JSON.parse(stdout).streams);
      },
    );
  });
}

test("a player reaching the other node plays the stream from the room's node", async (ctx) => {
  const [a, b] = ctx.cluster.nodes as [(typeof ctx.cluster.nodes)[0], (typeof ctx.cluster.nodes)[0]];
  const room = 'hls-town-hall';
  const bot = await MediaBot.join(a.url, await a.mint({ userId: 'host', role: 'host' }), room);
  ctx.bots.push(bot);
  await bot.publishAudio();
  await bot.publishVideo({ width: 320, height: 180, fps: 15 });

  const owner = a.app.rooms.getRoom(room) ? a : b;
  const other = owner === a ? b : a;
  assert.ok(owner.app.rooms.getRoom(room) && !other.app.rooms.getRoom(room), 'the room runs on one node');

  // Go live through the node that does not run the room (REST is forwarded), then wait for segments.
  const started = await other.api('POST', `/api/v1/rooms/${room}/live`, {});
  assert.is(started.status, 201, JSON.stringify(started.body));
  const { body: urls } = await other.api('POST', `/api/v1/rooms/${room}/live/urls`, { viewer_id: 'tv-1' });
  assert.ok(urls.playlist_url?.includes('token='), JSON.stringify(urls));
  const playlist = (await eventually(
    async () => {
      const res = await fetch(`${other.url}${urls.playlist_url}`);
      return res.status === 200
        ? { text: await res.text(), node: res.headers.get('x-switchboard-node'), type: res.headers.get('content-type') }
        : null;
    },
    45_000,
    'the playlist through the other node',
  ))!;
  assert.is(playlist.node, owner.app.config.nodeId, "answered by the room's node");
  assert.match(playlist.type ?? '', /mpegurl/);
  const segment = /^(p\d+_\d+\.ts\?token=\S+)$/m.exec(playlist.text)?.[1];
  assert.ok(segment, playlist.text);

  // A segment is binary: it arrives whole through the other node.
  const base = `${other.url}/live/${room}/`;
  const [viaOther, viaOwner] = await Promise.all([fetch(base + segment), fetch(`${owner.url}/live/${room}/${segment}`)]);
  assert.is(viaOther.status, 200);
  assert.is(viaOther.headers.get('content-type'), 'video/mp2t');
  const [bytesOther, bytesOwner] = await Promise.all([viaOther.arrayBuffer(), viaOwner.arrayBuffer()]);
  assert.ok(bytesOther.byteLength > 1000, `segment bytes: ${bytesOther.byteLength}`);
  assert.ok(Buffer.from(bytesOther).equals(Buffer.from(bytesOwner)), "the same bytes as from the room's node");

  const streams = await ffprobe(`${other.url}${urls.playlist_url}`);
  assert.is(streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
  assert.is(streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');

  // Unsigned requests are refused by the room's node, through the other one too; unknown rooms are the other node's own 404.
  assert.is((await fetch(`${other.url}/live/${room}/index.m3u8`)).status, 401);
  assert.is((await fetch(`${other.url}/live/no-such-room/index.m3u8`)).status, 404);
});

test.run();
