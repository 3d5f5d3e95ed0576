// Going live from the app and watching it, in real headless Chromium against
// a development server (POST /dev/token answers) with one mediasoup worker
// and ffmpeg: a watch page /watch/<room> opened before the stream says the
// room is not live; a host in the call clicks "Go live"; the watch page then
// plays the HLS stream by itself (its picture decodes and time advances), its
// chat message reaches the host's Live tab, the host pins it and the watcher
// sees it pinned, a reaction shows in the counts on both pages, the host's
// banner counts the watcher, a dropped connection watches again by itself,
// and "End live" ends it for the watcher.
// Run inside a private network namespace (npm test does): WebRTC must stay on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, prepareBrowserTests, saveScreenshot } from '../support/chromium.js';
import { startServer, type TestServer } from '../support/server.js';

const ROOM = 'town-hall';

interface Ctx {
  srv: TestServer;
  profile: string;
  context: BrowserContext;
  errors: string[];
}

const test = suite<Ctx>('the app: go live, the watch page', {} as Ctx);

test.before(async (ctx) => {
  prepareBrowserTests();
  ctx.srv = await startServer({
    sfuWorkers: 1,
    devKeys: true,
    // The shortest segments the config allows, and quick viewer and reaction rounds.
    env: { LIVE_SEGMENT_SECONDS: '1', LIVE_VIEWER_INTERVAL_MS: '200', LIVE_REACTION_INTERVAL_MS: '300' },
  });
  ctx.profile = mkdtempSync(path.join(tmpdir(), 'switchboard-chromium-'));
  ctx.context = await chromium.launchPersistentContext(ctx.profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  ctx.errors = [];
});

test.after(async (ctx) => {
  await ctx.context?.close().catch(() => {});
  await ctx.srv?.stop().catch(() => {});
  if (ctx.profile) rmSync(ctx.profile, { recursive: true, force: true });
});

async function newPage(ctx: Ctx, name: string): Promise<Page> {
  const page = await ctx.context.newPage();
  page.on('pageerror', (err) => ctx.errors.push(`${name}: ${String(err)}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // The pages ask whether this is a development server with an empty POST /dev/token:
    // 400 is the expected "yes", 404 the "no".
    if (msg.location().url.endsWith('/dev/token') && /status of (400|404)/.test(msg.text())) return;
    ctx.errors.push(`${name}: console: ${msg.text()}`);
  });
  return page;
}

/** Polls `fn` in the page until it returns true (a deadline, no fixed waits). */
async function until(page: Page, what: string, fn: () => boolean, timeout = 15_000): Promise<void> {
  try {
    await page.waitForFunction(fn, undefined, { timeout, polling: 200 });
  } catch (err) {
    const seen = await page
      .evaluate(() => {
        const v = document.querySelector('video');
        const text = (id: string) => document.getElementById(id)?.textContent ?? '';
        return JSON.stringify({
          offline: text('offline'),
          error: text('error'),
          status: text('live-status'),
          video: v && {
            src: v.currentSrc,
            readyState: v.readyState,
            networkState: v.networkState,
            time: v.currentTime,
            error: v.error?.message,
          },
        });
      })
      .catch(() => 'page gone');
    throw new Error(`${what}: ${(err as Error).message} (page: ${seen})`, { cause: err });
  }
}

test('a watch page waits for the stream, plays it once the host goes live, chats and reacts with the call', async (ctx) => {
  const { srv } = ctx;

  // The watcher comes first: a name is all a development server asks.
  const watcher = await newPage(ctx, 'watch');
  await watcher.goto(`${srv.url}/watch/${ROOM}`);
  await watcher.getByLabel('Your name').fill('Wendy');
  await watcher.getByRole('button', { name: 'Watch' }).click();
  await until(watcher, 'not live yet', () => (document.getElementById('offline')?.textContent ?? '').includes('is not live yet'));
  assert.match((await watcher.textContent('#offline')) ?? '', `${ROOM} is not live yet`);
  assert.ok(await watcher.getByRole('button', { name: 'React heart' }).isDisabled(), 'no reactions before the stream');
  await saveScreenshot(watcher, 'watch-not-live');

  // The host joins the call with camera and microphone, and goes live from the toolbar.
  const hostPage = await newPage(ctx, 'host');
  await hostPage.goto(`${srv.url}/r/${ROOM}`);
  await hostPage.waitForSelector('#join-form[data-mode="dev"]', { timeout: 5000 });
  await hostPage.fill('#display-name', 'Hana');
  await hostPage.selectOption('#role', 'host');
  await hostPage.click('#join');
  await until(hostPage, 'host publishes', () => {
    const w = window as unknown as { switchboardDemo: { client: { localTracks: Map<string, unknown> } | null } };
    return (w.switchboardDemo.client?.localTracks.size ?? 0) >= 2;
  });
  // The Live tab: the host picks the layout (the active speaker), then goes live from the toolbar.
  await hostPage.getByRole('tab', { name: 'Live' }).click();
  await hostPage.getByLabel('Stream layout').selectOption('active-speaker');
  const goLive = hostPage.getByRole('button', { name: 'Go live' });
  await goLive.click();
  await until(hostPage, 'banner', () => /Going live|LIVE/.test(document.getElementById('live-status')?.textContent ?? ''));
  assert.ok(await hostPage.getByRole('button', { name: 'End live' }).isVisible(), 'the button now ends the stream');

  // The watch page starts playing by itself: the picture decodes and time advances.
  await until(
    watcher,
    'playing',
    () => {
      const v = document.getElementById('player') as HTMLVideoElement;
      return v.videoWidth > 0 && v.currentTime > 0 && !v.paused;
    },
    60_000,
  );
  const t0 = await watcher.evaluate(() => (document.getElementById('player') as HTMLVideoElement).currentTime);
  await until(watcher, 'time advances', () => (document.getElementById('player') as HTMLVideoElement).currentTime > 0, 10_000);
  await watcher.waitForFunction((start) => (document.getElementById('player') as HTMLVideoElement).currentTime > start + 1, t0, {
    timeout: 15_000,
    polling: 200,
  });
  assert.ok(await watcher.isHidden('#offline'), 'the "not live" notice is gone');
  assert.ok(await watcher.isVisible('#live-badge'));
  const engine = await watcher.evaluate(() =>
    (window as unknown as { switchboardWatch: { hls: boolean } }).switchboardWatch.hls ? 'hls.js' : 'native',
  );
  console.log(`  watch page plays through ${engine}`);

  // The host's banner counts the watcher (its WebSocket and its player are one viewer).
  await until(hostPage, 'one watching', () => document.getElementById('live-status')?.textContent === 'LIVE · 1 watching');
  await until(watcher, 'viewer pill', () => document.getElementById('viewers')?.textContent === '1 watching');

  // Stream chat: the watcher writes, the host reads it in the Live tab and pins it, the watcher sees it pinned.
  await watcher.getByRole('textbox', { name: 'Chat message' }).fill('Hello from the audience');
  await watcher.getByRole('button', { name: 'Send' }).click();
  await until(watcher, 'own message', () => (document.getElementById('chat')?.textContent ?? '').includes('Hello from the audience'));
  assert.match((await hostPage.textContent('.live-state')) ?? '', /· active speaker$/);
  assert.is(srv.app.live.current(ROOM)?.info().layout, 'active-speaker', 'the server streams the chosen layout');
  assert.ok(await hostPage.isHidden('#live-layout'), 'no layout choice while live');
  const hostChat = hostPage.getByRole('list', { name: 'Stream chat' });
  await until(hostPage, 'host sees chat', () =>
    (document.querySelector('.live-chat')?.textContent ?? '').includes('Hello from the audience'),
  );
  assert.match((await hostChat.textContent()) ?? '', /Wendy\s*Hello from the audience/);
  await hostPage.getByRole('button', { name: "Pin Wendy's message" }).click();
  await until(watcher, 'pinned', () => (document.getElementById('pinned')?.textContent ?? '') === '📌 Wendy: Hello from the audience');
  // The host answers from the call; the watcher reads it.
  await hostPage.getByLabel('Message to the stream').fill('Welcome, Wendy');
  await hostPage.getByRole('button', { name: 'Send', exact: true }).click();
  await until(watcher, 'host reply', () => (document.getElementById('chat')?.textContent ?? '').includes('Welcome, Wendy'));

  // A reaction: counted on the watch page's button, and in the host's Live tab.
  await watcher.getByRole('button', { name: 'React heart' }).click();
  await until(watcher, 'heart count', () => document.querySelector('[data-reaction="heart"] .count')?.textContent === '1');
  await until(hostPage, 'host reactions', () => (document.querySelector('.live-reaction-totals')?.textContent ?? '').includes('❤️ 1'));

  // A dropped connection: the SDK reconnects and watches again by itself; the stream chat still reaches the watcher.
  const hub = srv.app.hub as unknown as {
    sessions: Set<{ ws: { terminate(): void }; identity: { user_id: string } | null; participant: unknown }>;
  };
  let dropped = 0;
  for (const s of hub.sessions) {
    if (s.identity?.user_id.startsWith('wendy-') && !s.participant) {
      s.ws.terminate();
      dropped++;
    }
  }
  assert.is(dropped, 1, "the watcher's connection");
  await until(
    watcher,
    'rewatched',
    () => (window as unknown as { switchboardWatch: { rewatches: number } }).switchboardWatch.rewatches === 1,
  );
  await hostPage.getByLabel('Message to the stream').fill('Still with us?');
  await hostPage.getByRole('button', { name: 'Send', exact: true }).click();
  await until(watcher, 'chat after reconnect', () => (document.getElementById('chat')?.textContent ?? '').includes('Still with us?'));
  assert.ok(await watcher.isHidden('#error'), 'the reconnect notice is gone');

  // The watch link in the Live tab is this page's address.
  assert.is(await hostPage.getAttribute('#live-watch-link', 'href'), `${srv.url}/watch/${ROOM}`);

  await saveScreenshot(watcher, 'watch');
  await saveScreenshot(hostPage, 'watch-host-live');

  // Phone width: the chat goes under the player, every control still reachable.
  await watcher.setViewportSize({ width: 390, height: 844 });
  assert.ok(await watcher.getByRole('textbox', { name: 'Chat message' }).isVisible());
  const overflow = await watcher.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.is(overflow, 0, 'nothing wider than the phone');
  await saveScreenshot(watcher, 'watch-phone');
  await watcher.setViewportSize({ width: 1280, height: 800 });

  // End live: the watcher is told, the host's banner goes away.
  await hostPage.getByRole('button', { name: 'End live' }).click();
  // What was buffered plays out first (up to 20 s), then the page says so.
  await until(watcher, 'ended', () => (document.getElementById('offline')?.textContent ?? '').includes('The stream has ended'), 30_000);
  await until(hostPage, 'banner gone', () => document.getElementById('live-status')?.hidden === true);
  assert.ok(await hostPage.getByRole('button', { name: 'Go live' }).isVisible());
  assert.equal(ctx.errors, []);
});

test('a viewer in the call sees the banner but has no Go live button; the server refuses it anyway', async (ctx) => {
  const { srv } = ctx;
  const minted = await srv.api('POST', '/dev/token', { name: 'Vic', room: 'viewers-only', role: 'viewer' }, null);
  assert.is(minted.status, 201);
  const vic = await newPage(ctx, 'viewer');
  await vic.goto(`${srv.url}/r/viewers-only#token=${encodeURIComponent(minted.body.token as string)}`);
  await vic.waitForSelector('#call:not([hidden])', { timeout: 10_000 });
  await vic.getByRole('tab', { name: 'Live' }).click();
  await until(vic, 'link', () => (document.getElementById('live-watch-link')?.textContent ?? '').endsWith('/watch/viewers-only'));
  assert.ok(await vic.isHidden('#live-toggle'), 'a viewer is not offered Go live');
  assert.ok(await vic.isHidden('#live-layout'), 'nor a layout');
  const refused = await vic.evaluate(async () => {
    const c = (window as unknown as { switchboardDemo: { client: { startLive(): Promise<unknown> } } }).switchboardDemo.client;
    return c.startLive().then(
      () => 'started',
      (err: { code?: string }) => err.code ?? 'error',
    );
  });
  assert.is(refused, 'forbidden');
  assert.equal(ctx.errors, []);
});

test('without development tokens the watch page explains how to get a link; a token link watches at once', async (ctx) => {
  const srv = await startServer({ sfuWorkers: 0 });
  try {
    const page = await newPage(ctx, 'no-dev');
    await page.goto(`${srv.url}/watch/launch`);
    await page.waitForSelector('#no-access:not([hidden])', { timeout: 5000 });
    assert.match((await page.textContent('#no-access')) ?? '', /POST \/auth\/token/);
    assert.is(await page.textContent('#link-example'), '/watch/launch#token=<token>');
    assert.ok(await page.isHidden('#watch-form'));
    const token = await srv.mint({ userId: 'zoe', name: 'Zoe', role: 'viewer', room: 'launch' });
    await page.goto(`${srv.url}/watch/launch#token=${encodeURIComponent(token)}`);
    await page.reload(); // a hash change alone does not reload the page
    await until(page, 'not live', () => (document.getElementById('offline')?.textContent ?? '').includes('launch is not live yet'));
    await page.close();
  } finally {
    await srv.stop();
  }
  assert.equal(ctx.errors, []);
});

test.run();
