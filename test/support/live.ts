// Live streaming tests' harness: a node with one mediasoup worker and fast
// live settings, a local webhook receiver, publishing hosts, watchers, and
// ffprobe on a live playlist.

import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { suite } from 'uvu';
import { MediaBot } from '../../clients/node/mediaBot.js';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import type { LiveStreamInfo } from '../../signaling/protocol/protocol.js';
import { freePort } from './net.js';
import { startServer, type TestServer } from './server.js';

/** A delivered live_stream_* webhook. */
export interface LiveHook {
  event: string;
  body: { event: string; stream: LiveStreamInfo };
}

export interface LiveCtx {
  srv: TestServer;
  hooks: LiveHook[];
  hookServer: Server;
  bots: MediaBot[];
}

/** A uvu suite whose node (with `env` on top of the live test settings) starts before and stops after it. */
export function liveSuite(name: string, env: Record<string, string> = {}) {
  const test = suite<LiveCtx>(name, {} as LiveCtx);
  test.before(async (ctx) => {
    ctx.hooks = [];
    const port = await freePort();
    ctx.hookServer = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = JSON.parse(raw) as LiveHook['body'];
        ctx.hooks.push({ event: body.event, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => ctx.hookServer.listen(port, '127.0.0.1', r));
    ctx.srv = await startServer({
      sfuWorkers: 1,
      env: {
        WEBHOOK_URLS: `http://127.0.0.1:${port}/hook`,
        WEBHOOK_SECRET: 'webhook-secret-0123456789',
        WEBHOOK_POLL_INTERVAL_MS: '100',
        LIVE_CHAT_RATE_PER_SECOND: '1',
        LIVE_CHAT_BURST: '3',
        LIVE_REACTION_BURST: '5',
        LIVE_REACTION_INTERVAL_MS: '300',
        LIVE_VIEWER_INTERVAL_MS: '200',
        LIVE_VIEWER_TIMEOUT_SECONDS: '30',
        LIVE_SEGMENT_SECONDS: '1',
        LIVE_SPEAKER_HOLD_SECONDS: '1',
        ...env,
      },
    });
    ctx.bots = [];
  });
  test.after(async (ctx) => {
    for (const b of ctx.bots) await b.close().catch(() => {});
    await ctx.srv.stop();
    ctx.hookServer.close();
  });
  return test;
}

/** A host publishing a 440 Hz tone and a moving picture. */
export async function host(ctx: LiveCtx, room: string): Promise<MediaBot> {
  const bot = await MediaBot.join(ctx.srv.url, await ctx.srv.mint({ userId: `host-${room}`, role: 'host' }), room);
  ctx.bots.push(bot);
  await bot.publishAudio();
  await bot.publishVideo({ width: 640, height: 360, fps: 15 });
  return bot;
}

/** An authenticated connection that watches the room's stream without joining it. */
export async function watcher(ctx: LiveCtx, userId: string, room: string, role: 'viewer' | 'moderator' = 'viewer') {
  const client = await ctx.srv.connect();
  await client.request('auth', { token: await ctx.srv.mint({ userId, role }) });
  const watched = await client.request('live-watch', { room });
  return { client, watched };
}

export function untilStatus(client: SignalingClient, status: LiveStreamInfo['status'], streamId?: string, timeoutMs = 45_000) {
  return client.next(
    'live-stream-updated',
    (p) => p.stream.status === status && (streamId === undefined || p.stream.stream_id === streamId),
    timeoutMs,
  );
}

/** ffprobe the playlist over HTTP for a few seconds of media (a live playlist never ends). */
export function ffprobeLive(
  url: string,
): Promise<Array<{ codec_type: string; codec_name: string; nb_read_frames?: string; width?: number }>> {
  return new Promise((resolve, reject) => {
    execFile(
      'ffprobe',
      ['-v', 'error', '-read_intervals', '%+4', '-count_frames', '-show_streams', '-of', 'json', url],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`ffprobe failed: ${stderr || err.message}`));
        resolve(JSON.parse(stdout).streams);
      },
    );
  });
}
