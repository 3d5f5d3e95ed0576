// The demo on a development server (generated keys, so POST /dev/token
// answers), in real headless Chromium: a room link /r/<room> asks only for a
// name (the role is picked, the token fetched by the page) and joins; a second
// page opens /r/<room>#token=<viewer token> and is in at once, publishing
// nothing and never asking for a device. Both see each other in the grid.
// Run inside a private network namespace (npm test does): WebRTC must stay on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, prepareBrowserTests } from '../support/chromium.js';
import { startServer, type TestServer } from '../support/server.js';

const ROOM = 'dev-link';

/** What the tests read from the page: its live client, and how often it asked for devices. */
interface DemoWindow {
  switchboardDemo: { client: { localTracks: Map<string, unknown>; participantId: string | null } | null };
  getUserMediaCalls: number;
}

interface Ctx {
  srv: TestServer;
  profile: string;
  context: BrowserContext;
  pageErrors: string[];
}

const test = suite<Ctx>('demo: development tokens and room links', {} as Ctx);

test.before(async (ctx) => {
  prepareBrowserTests();
  ctx.srv = await startServer({ sfuWorkers: 1, devKeys: true });
  ctx.profile = mkdtempSync(path.join(tmpdir(), 'switchboard-chromium-'));
  ctx.context = await chromium.launchPersistentContext(ctx.profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 860 },
  });
  ctx.pageErrors = [];
  // Counts device requests on every page (a viewer must make none).
  await ctx.context.addInitScript(() => {
    const w = window as unknown as DemoWindow;
    w.getUserMediaCalls = 0;
    const md = navigator.mediaDevices;
    const original = md.getUserMedia.bind(md);
    md.getUserMedia = (constraints) => {
      w.getUserMediaCalls++;
      return original(constraints);
    };
  });
});

test.after(async (ctx) => {
  await ctx.context?.close().catch(() => {});
  await ctx.srv?.stop().catch(() => {});
  if (ctx.profile) rmSync(ctx.profile, { recursive: true, force: true });
});

async function newPage(ctx: Ctx): Promise<Page> {
  const page = await ctx.context.newPage();
  page.on('pageerror', (err) => ctx.pageErrors.push(String(err)));
  return page;
}

async function tileNames(page: Page): Promise<string[]> {
  return page.$$eval('.tile[data-kind="camera"] .name', (els) => els.map((e) => e.textContent ?? '').sort());
}

test('/r/<room>: type a name, join; a viewer link joins directly without publishing; both see each other', async (ctx) => {
  const { srv } = ctx;
  const ann = await newPage(ctx);
  await ann.goto(`${srv.url}/r/${ROOM}`);
  // The server hands out tokens: the form asks for a name, a room (filled from the link) and a role, no token.
  await ann.waitForSelector('#join-form[data-mode="dev"]', { timeout: 5000 });
  assert.ok(await ann.isHidden('#token'), 'no token field');
  assert.ok(await ann.isHidden('#server-url'));
  assert.ok(await ann.isVisible('#role'));
  assert.is(await ann.inputValue('#room'), ROOM);
  await ann.fill('#display-name', 'Ann');
  await ann.selectOption('#role', 'host');
  await ann.click('#join');
  await ann.waitForSelector('#call:not([hidden])', { timeout: 10_000 });
  await ann.waitForFunction(() => ((window as unknown as DemoWindow).switchboardDemo.client?.localTracks.size ?? 0) >= 2, undefined, {
    timeout: 10_000,
  });
  assert.ok((await ann.evaluate(() => (window as unknown as DemoWindow).getUserMediaCalls)) > 0, 'a host publishes camera and mic');

  // A viewer's link: straight into the room, no form, no devices.
  const minted = await srv.api('POST', '/dev/token', { name: 'Vic', room: ROOM, role: 'viewer' }, null);
  assert.is(minted.status, 201);
  const vic = await newPage(ctx);
  await vic.goto(`${srv.url}/r/${ROOM}#token=${encodeURIComponent(minted.body.token as string)}`);
  await vic.waitForSelector('#call:not([hidden])', { timeout: 10_000 });
  assert.ok(await vic.isHidden('#join-form'));
  assert.is(await vic.textContent('#room-name'), `room ${ROOM}`);
  assert.ok(await vic.isHidden('#toggle-audio'), 'a viewer has no mic button');

  // Both in the grid, each with the other.
  await vic.waitForFunction(() => document.querySelectorAll('.tile[data-kind="camera"]').length === 2, undefined, { timeout: 10_000 });
  await ann.waitForFunction(() => document.querySelectorAll('.tile[data-kind="camera"]').length === 2, undefined, { timeout: 10_000 });
  assert.equal(await tileNames(ann), ['Ann (you)', 'Vic']);
  assert.equal(await tileNames(vic), ['Ann', 'Vic (you)']);
  // The viewer receives the host's camera.
  await vic.waitForSelector('.tile[data-kind="camera"]:not(.no-video)', { timeout: 15_000 });

  // The viewer published nothing and never asked for a device.
  assert.is(await vic.evaluate(() => (window as unknown as DemoWindow).switchboardDemo.client?.localTracks.size), 0);
  assert.is(await vic.evaluate(() => (window as unknown as DemoWindow).getUserMediaCalls), 0);
  const room = srv.app.rooms.getRoom(ROOM);
  assert.ok(room, 'the room exists');
  assert.equal(ctx.pageErrors, []);
});

test('with configured keys the form keeps the token field and says how apps get tokens', async (ctx) => {
  const srv = await startServer();
  try {
    const page = await newPage(ctx);
    await page.goto(`${srv.url}/r/standup`);
    await page.waitForSelector('#join-form[data-mode="token"] #token-help:not([hidden])', { timeout: 5000 });
    assert.ok(await page.isVisible('#token'));
    assert.ok(await page.isHidden('#role'));
    assert.is(await page.inputValue('#room'), 'standup');
    assert.match((await page.textContent('#token-help')) ?? '', /POST \/auth\/token/);
    // A room link with a token still joins at once.
    const token = await srv.mint({ userId: 'zoe', name: 'Zoe', role: 'viewer', room: 'standup' });
    await page.goto(`${srv.url}/r/standup?token=${encodeURIComponent(token)}`);
    await page.waitForSelector('#call:not([hidden])', { timeout: 10_000 });
    assert.is(await page.evaluate(() => (window as unknown as DemoWindow).getUserMediaCalls), 0);
    await page.close();
  } finally {
    await srv.stop();
  }
  assert.equal(ctx.pageErrors, []);
});

test.run();
