// Shared pieces of the recording tests: bots that publish synthetic media,
// a webhook receiver on loopback, and reading a finished recording.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MediaBot } from '../../clients/node/mediaBot.js';
import type { Role } from '../../signaling/protocol/protocol.js';
import { suite, type Test } from 'uvu';
import { startServer, type TestServer, type TestServerOptions } from './server.js';
import { eventually } from './net.js';

export interface BotPool {
  srv: TestServer;
  bots: MediaBot[];
}

/** A real libwebrtc participant publishing what it is told to. */
export async function publisher(
  ctx: BotPool,
  user: string,
  room: string,
  opts: { role?: Role; audio?: boolean; video?: boolean } = {},
): Promise<MediaBot> {
  const bot = await MediaBot.join(ctx.srv.url, await ctx.srv.mint({ userId: user, role: opts.role ?? 'speaker' }), room);
  ctx.bots.push(bot);
  if (opts.audio ?? true) await bot.publishAudio();
  if (opts.video ?? true) await bot.publishVideo({ fps: 15 });
  return bot;
}

export async function closeBots(ctx: BotPool): Promise<void> {
  for (const b of ctx.bots.splice(0)) await b.close().catch(() => {});
}

/** A suite on one in-process node with one mediasoup worker; every test's bots are closed after it. */
export function recordingSuite(name: string, opts: TestServerOptions = {}): Test<BotPool> {
  const test = suite<BotPool>(name, { bots: [] } as unknown as BotPool);
  test.before(async (ctx) => {
    ctx.srv = await startServer({ sfuWorkers: 1, ...opts });
    ctx.bots = [];
  });
  test.after(async (ctx) => {
    await closeBots(ctx);
    await ctx.srv.stop();
  });
  test.after.each(async (ctx) => closeBots(ctx));
  return test;
}

/** A BotPool with a webhook receiver that the suite's server delivers to. */
export interface HookedBotPool extends BotPool {
  hooks: HookReceiver;
}

/** Like recordingSuite, with a HookReceiver started first and the server's webhooks sent to it. */
export function webhookRecordingSuite(name: string): Test<HookedBotPool> {
  const test = suite<HookedBotPool>(name, { bots: [] } as unknown as HookedBotPool);
  test.before(async (ctx) => {
    ctx.hooks = await new HookReceiver().start();
    ctx.srv = await startServer({ sfuWorkers: 1, env: webhookEnv(ctx.hooks) });
    ctx.bots = [];
  });
  test.after(async (ctx) => {
    await closeBots(ctx);
    await ctx.srv.stop();
    await ctx.hooks.stop();
  });
  test.after.each(async (ctx) => closeBots(ctx));
  return test;
}

/** A track of a recording's file, as the REST API lists it. */
export interface RecordingTrack {
  kind: string;
  codec: string;
}

/** A recording's file as the REST API lists it (the fields the tests read). */
export interface RecordingFile {
  name: string;
  user_id: string;
  participant_id: string;
  seq: number;
  status: string;
  error: string | null;
  started_at: string;
  ended_at: string;
  duration_seconds: number;
  size_bytes: number;
  tracks: RecordingTrack[];
  streams: Array<{ codec_name: string }>;
}

/** A recording_* webhook body (the fields the tests read). */
export interface RecordingHook {
  event: string;
  room: string;
  recording: { recording_id: string; status: string; end_reason: string | null; error: string | null; files: RecordingFile[] };
}

/** Webhook receiver on 127.0.0.1 (signatures are the webhooks tests' business). */
export class HookReceiver {
  readonly events: Array<{ event: string; room: string; body: RecordingHook }> = [];
  private server: Server | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = JSON.parse(raw) as RecordingHook;
        this.events.push({ event: body.event, room: body.room, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Waits for a delivered event of this name for this room (optionally matching). */
  wait(event: string, room: string, match: (body: RecordingHook) => boolean = () => true, timeoutMs = 20_000): Promise<RecordingHook> {
    // eventually() returns only a truthy value: the body, not undefined.
    return eventually(
      () => this.events.find((e) => e.event === event && e.room === room && match(e.body))?.body,
      timeoutMs,
      `webhook ${event} for ${room}`,
    ) as Promise<RecordingHook>;
  }
}

export const WEBHOOK_SECRET = 'recording-webhook-secret-0123';

/** Env for a test server that delivers webhooks to `hooks` quickly. */
export function webhookEnv(hooks: HookReceiver): Record<string, string> {
  return { WEBHOOK_URLS: hooks.url, WEBHOOK_SECRET, WEBHOOK_POLL_INTERVAL_MS: '100', WEBHOOK_RETRY_BASE_MS: '50' };
}
