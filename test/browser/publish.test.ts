// The browser SDK and demo app in real headless Chromium (Debian's, driven by
// playwright-core): the page is served by the server itself, joins a room
// through the demo's form and publishes its fake camera and microphone; a
// Node MediaBot in the same room decodes them, and the page decodes the bot.
// Then mute from the UI, a mediasoup worker's death (sfu-reset) and a dropped
// WebSocket (reconnect + rejoin), each followed by media flowing again.
// Run inside a private network namespace (npm test does): WebRTC must stay on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { MediaBot, type ReceivedTrack } from '../../clients/node/mediaBot.js';
import type { ProducerInfo } from '../../signaling/protocol/protocol.js';
import { CHROMIUM, CHROMIUM_FLAGS, prepareBrowserTests } from '../support/chromium.js';
import { eventually } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

const ROOM = 'browser-demo';

/** What the tests read from the page's live client (window.switchboardDemo.client). */
interface DemoWindow {
  switchboardDemo: {
    client: {
      remoteTracks: Map<
        string,
        { kind: string; consumer: { getStats(): Promise<Map<string, { type: string; totalSamplesReceived?: number }>> } }
      >;
      localTracks: Map<string, { track: MediaStreamTrack; producer: { rtpParameters: { encodings?: Array<{ rid?: string }> } } | null }>;
      setPreferredLayers(producerId: string, spatialLayer: number, temporalLayer?: number): Promise<void>;
    } | null;
  };
}

interface Ctx {
  srv: TestServer;
  profile: string;
  context: BrowserContext;
  page: Page;
  bot: MediaBot;
  pageErrors: string[];
  consoleLines: string[];
  aliceId: string;
}

const test = suite<Ctx>('browser sdk + demo', {} as Ctx);

test.before(async (ctx) => {
  prepareBrowserTests();
  ctx.srv = await startServer({ sfuWorkers: 1 });
  ctx.profile = mkdtempSync(path.join(tmpdir(), 'switchboard-chromium-'));
  ctx.context = await chromium.launchPersistentContext(ctx.profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 860 },
  });
  ctx.page = ctx.context.pages()[0] ?? (await ctx.context.newPage());
  ctx.pageErrors = [];
  ctx.consoleLines = [];
  ctx.page.on('pageerror', (err) => ctx.pageErrors.push(String(err)));
  ctx.page.on('console', (msg) => ctx.consoleLines.push(`${msg.type()}: ${msg.text()}`));
  // The bot is in the room first and publishes, so the page has someone to show.
  ctx.bot = await MediaBot.join(ctx.srv.url, await ctx.srv.mint({ userId: 'bot', name: 'Bot' }), ROOM);
  await ctx.bot.publishVideo({ width: 640, height: 360 });
  await ctx.bot.publishAudio();
});

test.after(async (ctx) => {
  if (process.env['BROWSER_TEST_DEBUG']) {
    console.log('--- page console\n' + ctx.consoleLines.join('\n'));
    console.log('--- demo log\n' + (await ctx.page?.textContent('#log').catch(() => '')));
  }
  await ctx.context?.close().catch(() => {});
  await ctx.bot?.close().catch(() => {});
  await ctx.srv?.stop().catch(() => {});
  if (ctx.profile) rmSync(ctx.profile, { recursive: true, force: true });
});

/**
 * A promise the test awaits later: if the test fails before that, its
 * rejection must not be unhandled (that would kill the whole file).
 */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** The next producer-added of the page's participant for this source (skipping older ones). */
function nextProducer(ctx: Ctx, source: string, timeoutMs = 15_000): Promise<ProducerInfo> {
  return ctx.bot.signaling.next('producer-added', (p) => p.source === source && p.participant_id === ctx.aliceId, timeoutMs);
}

async function consumeAndCount(ctx: Ctx, camera: ProducerInfo, mic: ProducerInfo): Promise<{ video: ReceivedTrack; audio: ReceivedTrack }> {
  const video = await ctx.bot.consume(camera.producer_id);
  const audio = await ctx.bot.consume(mic.producer_id);
  await eventually(() => video.frames >= 20 && audio.frames >= 100, 20_000, 'the bot decodes the browser (20 video frames, 1 s of audio)');
  return { video, audio };
}

/** Frames the page decoded from the bot's camera (its <video> in the bot's tile). */
function remoteVideoFrames(page: Page, participantId: string): Promise<number> {
  return page.evaluate((id) => {
    const video = document.querySelector<HTMLVideoElement>(`.tile[data-participant="${id}"][data-kind="camera"] video`);
    return video && video.videoWidth > 0 ? video.getVideoPlaybackQuality().totalVideoFrames : 0;
  }, participantId);
}

/** Audio the page received from the bot, from the consumer's own stats. */
function remoteAudioSamples(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const client = (window as unknown as DemoWindow).switchboardDemo.client;
    let samples = 0;
    for (const remote of client?.remoteTracks.values() ?? []) {
      if (remote.kind !== 'audio') continue;
      for (const s of (await remote.consumer.getStats()).values()) if (s.type === 'inbound-rtp') samples += s.totalSamplesReceived ?? 0;
    }
    return samples;
  });
}

test('the demo page is served, joins through its form and publishes camera + mic to a Node bot', async (ctx) => {
  const { page, srv } = ctx;
  const index = await fetch(`${srv.url}/`);
  assert.is(index.status, 200);
  assert.is(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.is((await fetch(`${srv.url}/app/switchboard.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.is((await fetch(`${srv.url}/app/..%2f..%2fpackage.json`)).status, 404);
  assert.is((await fetch(`${srv.url}/health`)).status, 200, 'the API is still there');

  await page.goto(`${srv.url}/`);
  assert.is(await page.title(), 'Switchboard demo');
  assert.is(await page.inputValue('#server-url'), `${srv.url.replace('http:', 'ws:')}/ws`, 'the server URL defaults to the page origin');
  await page.fill('#room', ROOM);
  // A bad token: the form stays, with the server's reason.
  await page.fill('#token', 'not-a-jwt');
  await page.click('#join');
  await page.waitForSelector('#error:not([hidden])', { timeout: 5000 });
  assert.match((await page.textContent('#error')) ?? '', /Could not join: unauthorized/);
  assert.ok(await page.isEnabled('#join'));
  await page.fill('#token', await srv.mint({ userId: 'alice', name: 'Alice' }));
  const added = settledLater(
    Promise.all([
      ctx.bot.signaling.next('producer-added', (p) => p.source === 'camera', 20_000),
      ctx.bot.signaling.next('producer-added', (p) => p.source === 'mic', 20_000),
    ]),
  );
  await page.click('#join');
  await page.waitForSelector('#call:not([hidden])', { timeout: 10_000 });
  assert.is(await page.textContent('#connection'), 'connected');

  const [camera, mic] = await added;
  ctx.aliceId = camera.participant_id;
  assert.is(mic.participant_id, ctx.aliceId);
  const { video } = await consumeAndCount(ctx, camera, mic);
  assert.ok(video.lastWidth >= 320, `decoded width ${video.lastWidth}`);
  // Simulcast: the camera went up in three encodings.
  const encodings = await page.evaluate(() => {
    const client = (window as unknown as DemoWindow).switchboardDemo.client!;
    return client.localTracks.get('camera')?.producer?.rtpParameters.encodings?.map((e) => e.rid) ?? [];
  });
  assert.equal(encodings, ['r0', 'r1', 'r2']);
  assert.equal(ctx.pageErrors, []);
});

test('the page receives the bot: its tile plays video and audio arrives', async (ctx) => {
  const { page } = ctx;
  await page.waitForSelector(`.tile[data-participant="${ctx.bot.participantId}"]`, { timeout: 5000 });
  await eventually(async () => (await remoteVideoFrames(page, ctx.bot.participantId)) > 10, 15_000, "the page decodes the bot's video");
  await eventually(async () => (await remoteAudioSamples(page)) > 48_000, 15_000, "the page receives the bot's audio (1 s)");
  assert.match((await page.textContent(`.tile[data-participant="${ctx.bot.participantId}"] .name`)) ?? '', /Bot/);
});

test('speaking indicator and connection quality show on the tiles', async (ctx) => {
  const { page } = ctx;
  // The fake mic beeps and the bot plays a tone: the SFU reports levels for someone.
  await page.waitForSelector('.tile.speaking', { timeout: 10_000 });
  await page.waitForFunction(
    () => Array.from(document.querySelectorAll('.tile .quality')).some((q) => /excellent|good|poor|lost/.test(q.textContent ?? '')),
    undefined,
    { timeout: 15_000 },
  );
});

test('mute from the UI: the bot hears mute and its consumer pauses; unmute resumes', async (ctx) => {
  const { page, bot } = ctx;
  await page.click('#toggle-audio');
  assert.equal(await bot.signaling.next('mute', (m) => m.from === ctx.aliceId), { from: ctx.aliceId, track: 'audio' });
  await bot.signaling.next('consumer-paused');
  await page.waitForFunction(() => document.querySelector('#toggle-audio')?.textContent === 'Unmute mic', undefined, { timeout: 5000 });
  assert.ok(await page.isVisible(`.tile[data-participant="${ctx.aliceId}"] .mic-off`), 'own tile shows mic off');
  await page.click('#toggle-audio');
  await bot.signaling.next('unmute', (m) => m.from === ctx.aliceId);
  await bot.signaling.next('consumer-resumed');
});

test("simulcast from the browser: the subscriber's preferred layer decides the resolution it gets", async (ctx) => {
  const { bot, page } = ctx;
  const width = await page.evaluate(
    () => (window as unknown as DemoWindow).switchboardDemo.client!.localTracks.get('camera')!.track.getSettings().width ?? 0,
  );
  assert.is(width, 1280, 'the SDK asks for 720p');
  const camera = [...bot.received.values()].find((r) => r.consumer.kind === 'video')!;
  await bot.signaling.request('set-consumer-layers', { consumer_id: camera.consumer.id, spatial_layer: 0 });
  await eventually(() => camera.lastWidth === 320, 15_000, 'lowest layer (320 wide)');
  await bot.signaling.request('set-consumer-layers', { consumer_id: camera.consumer.id, spatial_layer: 1 });
  await eventually(() => camera.lastWidth === 640, 15_000, 'middle layer (640 wide)');
  // The page's side of the same request, on its consumer of the bot's camera: not
  // simulcast, so the server refuses, and the SDK hands back its error.
  const outcome = await page.evaluate(
    (producerId) =>
      (window as unknown as DemoWindow).switchboardDemo.client!.setPreferredLayers(producerId, 0).then(
        () => 'ok',
        (e: Error) => `${e.name} ${e.message}`,
      ),
    [...bot.producers.values()].find((p) => p.kind === 'video')!.id,
  );
  assert.match(outcome, /^SignalingError invalid_payload: a simple consumer has no layers/);
});

test('screen sharing from the UI reaches the bot', async (ctx) => {
  const { bot, page } = ctx;
  const added = settledLater(nextProducer(ctx, 'screen'));
  await page.click('#toggle-screen');
  const screen = await bot.consume((await added).producer_id);
  await eventually(() => screen.frames >= 10, 15_000, 'the bot decodes the screen');
  assert.is(await page.textContent('#toggle-screen'), 'Stop sharing');
  await page.waitForSelector(`.tile[data-participant="${ctx.aliceId}"][data-kind="screen"]`);
});

test('screenshot of the demo in a call', async (ctx) => {
  const dir = process.env['BROWSER_TEST_SCREENSHOT_DIR'] ?? mkdtempSync(path.join(tmpdir(), 'switchboard-shot-'));
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'demo.png');
  await ctx.page.evaluate(() => document.querySelector('#log-panel')?.setAttribute('open', ''));
  await ctx.page.screenshot({ path: file, fullPage: true });
  assert.ok(statSync(file).size > 20_000, 'a real picture');
  if (process.env['BROWSER_TEST_SCREENSHOT_DIR']) console.log(`screenshot: ${file}`);
  else rmSync(dir, { recursive: true, force: true });
});

test('stopping the screen share removes its producers', async (ctx) => {
  const { bot, page } = ctx;
  const removed = settledLater(bot.signaling.next('producer-removed', (p) => p.participant_id === ctx.aliceId, 10_000));
  await page.click('#toggle-screen');
  await removed;
  await page.waitForSelector(`.tile[data-participant="${ctx.aliceId}"][data-kind="screen"]`, { state: 'detached' });
  assert.is(await page.textContent('#toggle-screen'), 'Share screen');
});

test('sfu-reset: the SDK rebuilds its transports and publishes again', async (ctx) => {
  const { srv, bot, page } = ctx;
  const pool = srv.app.sfu!.pool;
  const deadPid = pool.slots[0].pid;
  const republished = settledLater(Promise.all([nextProducer(ctx, 'camera', 20_000), nextProducer(ctx, 'mic', 20_000)]));
  process.kill(deadPid, 'SIGKILL');
  await bot.signaling.next('sfu-reset', () => true, 10_000);
  await eventually(() => pool.slots[0].pid !== deadPid && !pool.slots[0].worker.closed, 10_000, 'worker replaced');
  // The page rebuilt by itself; the bot does what the protocol asks of every client.
  bot.resetTransports();
  for (const r of bot.received.values()) r.stop();
  bot.received.clear();
  const [camera, mic] = await republished;
  await consumeAndCount(ctx, camera, mic);
  await bot.publishVideo({ width: 640, height: 360 });
  await bot.publishAudio();
  const frames = () => remoteVideoFrames(page, bot.participantId);
  const before = await frames();
  await eventually(
    async () => (await frames()) > before + 10 || (before === 0 && (await frames()) > 10),
    20_000,
    'the page decodes the bot again',
  );
  assert.equal(ctx.pageErrors, []);
});

test('a dropped WebSocket: the SDK reconnects, joins again and republishes', async (ctx) => {
  const { srv, bot, page } = ctx;
  const hub = srv.app.hub as unknown as {
    sessions: Set<{ ws: { terminate(): void }; participant: { identity: { userId: string } } | null }>;
  };
  const left = settledLater(bot.signaling.next('peer-left', (p) => p.participant_id === ctx.aliceId, 10_000));
  const oldId = ctx.aliceId;
  const joined = settledLater(
    bot.signaling.next('peer-joined', (p) => p.participant.user_id === 'alice' && p.participant.participant_id !== oldId, 20_000),
  );
  let dropped = 0;
  for (const s of hub.sessions) {
    if (s.participant?.identity.userId === 'alice') {
      s.ws.terminate();
      dropped++;
    }
  }
  assert.is(dropped, 1);
  assert.is((await left).reason, 'disconnected');
  ctx.aliceId = (await joined).participant.participant_id;
  const [camera, mic] = await Promise.all([nextProducer(ctx, 'camera', 20_000), nextProducer(ctx, 'mic', 20_000)]);
  await consumeAndCount(ctx, camera, mic);
  await page.waitForFunction(() => document.querySelector('#connection')?.textContent === 'connected');
  assert.match((await page.textContent('#log')) ?? '', /rejoined browser-demo/);
  await eventually(async () => (await remoteVideoFrames(page, bot.participantId)) > 10, 20_000, 'the page decodes the bot after rejoining');
  assert.equal(ctx.pageErrors, []);
});

// ---- Room control: the demo's raise-hand button and the SDK's state ----
test('room control in the demo: raise and lower a hand; a moderator mute shows in the SDK state', async (ctx) => {
  const { srv, bot, page } = ctx;
  await page.click('#raise-hand');
  const raised = await bot.signaling.next('hand-queue', (q) => q.hands.some((h) => h.user_id === 'alice'), 10_000);
  assert.is(raised.hands.find((h) => h.user_id === 'alice')!.participant_id, ctx.aliceId);
  await page.waitForFunction(() => document.querySelector('#raise-hand')?.textContent === 'Lower hand');
  // The queue in the People tab lists the raised hand.
  await page.waitForFunction(() => (document.querySelector('[aria-label="Raised hands"]')?.childElementCount ?? 0) === 1);
  await page.click('#raise-hand');
  await bot.signaling.next('hand-queue', (q) => !q.hands.some((h) => h.user_id === 'alice'), 10_000);
  await page.waitForFunction(() => document.querySelector('#raise-hand')?.textContent === 'Raise hand');
  // The app's backend mutes the page's mic: the SDK's own mute state follows.
  assert.is((await srv.api('POST', `/api/v1/rooms/${ROOM}/participants/${ctx.aliceId}/mute`, { track: 'audio' })).status, 200);
  await page.waitForFunction(
    () => (window as unknown as { switchboardDemo: { client: { muted: { audio: boolean } } } }).switchboardDemo.client.muted.audio === true,
  );
  assert.match((await page.textContent('#log')) ?? '', /audio was muted by a moderator/);
  await page.waitForFunction(() => document.querySelector('#toggle-audio')?.textContent === 'Unmute mic');
  assert.equal(ctx.pageErrors, []);
});

test.run();
