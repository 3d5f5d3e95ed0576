// The demo's Chat tab in real headless Chromium, two people in a room: Ann
// (host, through the join form) types a message and presses Enter; Bob (a
// viewer, through a room link) sees it counted as unread on the closed tab,
// opens it and reads it (as text, not HTML), replies to it with the Send button;
// Bob reloads the page and still sees the conversation; Ann deletes her
// message and it disappears on Bob's page. Viewers delete only their own.
// Run inside a private network namespace (npm test does): WebRTC must stay on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, prepareBrowserTests, saveScreenshot } from '../support/chromium.js';
import { startServer, type TestServer } from '../support/server.js';

const ROOM = 'chat-demo';

interface Ctx {
  srv: TestServer;
  profile: string;
  context: BrowserContext;
  errors: string[];
}

const test = suite<Ctx>('demo: in-call chat', {} as Ctx);

test.before(async (ctx) => {
  prepareBrowserTests();
  ctx.srv = await startServer({ sfuWorkers: 1, devKeys: true });
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

/**
 * The demo's start-up probe of POST /dev/token (main.ts, not the chat) is
 * answered 400 by design, and Chromium logs every 4xx resource as a console
 * error: that one is left out, every other error counts.
 */
const PROBE = /\/dev\/token$/;

async function newPage(ctx: Ctx): Promise<Page> {
  const page = await ctx.context.newPage();
  page.on('pageerror', (err) => ctx.errors.push(`pageerror: ${String(err)}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !PROBE.test(msg.location().url)) ctx.errors.push(`console: ${msg.text()}`);
  });
  page.on('response', (res) => {
    const probe = res.request().method() === 'POST' && PROBE.test(res.url()) && res.status() === 400;
    if (res.status() >= 400 && !probe) ctx.errors.push(`http ${res.status()} ${res.request().method()} ${res.url()}`);
  });
  return page;
}

/** The texts of the messages the page lists, in order. */
function texts(page: Page): Promise<string[]> {
  return page.$$eval('#panel-chat .chat-message .chat-text', (els) => els.map((e) => e.textContent ?? ''));
}

async function waitForTexts(page: Page, expected: string[]): Promise<void> {
  await page.waitForFunction(
    (want) =>
      JSON.stringify(Array.from(document.querySelectorAll('#panel-chat .chat-message .chat-text'), (e) => e.textContent)) ===
      JSON.stringify(want),
    expected,
    { timeout: 10_000 },
  );
}

test('Ann writes, Bob reads (unread count on the closed tab), Bob answers, reloads and still sees it; Ann deletes hers and it is gone for Bob', async (ctx) => {
  const { srv } = ctx;
  const ann = await newPage(ctx);
  await ann.goto(`${srv.url}/r/${ROOM}`);
  await ann.waitForSelector('#join-form[data-mode="dev"]', { timeout: 5000 });
  await ann.fill('#display-name', 'Ann');
  await ann.selectOption('#role', 'host');
  await ann.click('#join');
  await ann.waitForSelector('#call:not([hidden])', { timeout: 10_000 });

  const minted = await srv.api('POST', '/dev/token', { name: 'Bob', room: ROOM, role: 'viewer' }, null);
  assert.is(minted.status, 201);
  const bobUrl = `${srv.url}/r/${ROOM}#token=${encodeURIComponent(minted.body.token as string)}`;
  const bob = await newPage(ctx);
  await bob.goto(bobUrl);
  await bob.waitForSelector('#call:not([hidden])', { timeout: 10_000 });
  await bob.waitForSelector('#panel-chat .chat-input:not([disabled])', { state: 'attached', timeout: 10_000 });

  // Ann opens the Chat tab: nothing yet. She types and presses Enter.
  await ann.getByRole('tab', { name: 'Chat' }).click();
  await ann.waitForSelector('#panel-chat:not([hidden]) .chat-empty:not([hidden])');
  const box = ann.getByLabel('Message', { exact: true });
  await box.fill('Hello <b>Bob</b>, can you hear me?');
  await box.press('Enter');
  await waitForTexts(ann, ['Hello <b>Bob</b>, can you hear me?']);
  assert.is(await box.inputValue(), '', 'the box is emptied once sent');
  assert.ok(await ann.isVisible('#panel-chat .chat-message.mine'), 'her own message, aligned as hers');
  assert.ok(await ann.isHidden('#panel-chat .chat-empty'));

  // Bob's tab is closed: one unread. Opening it clears the count and shows the message as text.
  await bob.getByRole('tab', { name: 'Chat 1 unread' }).waitFor({ timeout: 10_000 });
  await saveScreenshot(bob, 'chat-unread');
  await bob.getByRole('tab', { name: /^Chat/ }).click();
  await waitForTexts(bob, ['Hello <b>Bob</b>, can you hear me?']);
  await bob.waitForSelector('#tab-chat .chat-unread', { state: 'hidden', timeout: 5000 }); // read now
  assert.is(await bob.locator('#panel-chat .chat-text b').count(), 0, 'text is never HTML');
  assert.is(await bob.textContent('#panel-chat .chat-message .chat-name'), 'Ann');
  assert.is(await bob.locator('#panel-chat .chat-message.mine').count(), 0);
  // A viewer may not delete Ann's message: no button offered.
  assert.is(await bob.locator('#panel-chat .chat-delete').count(), 0);

  // Bob answers Ann's message (Reply, then the Send button); Ann sees it (not as hers) quoting hers.
  await bob.getByRole('button', { name: /^Reply to Ann: Hello/ }).click();
  assert.match((await bob.textContent('#panel-chat .chat-replying')) ?? '', /Replying to Ann: Hello <b>Bob<\/b>/);
  await bob.getByLabel('Message', { exact: true }).fill('Loud and clear.');
  await bob.getByRole('button', { name: 'Send' }).click();
  await waitForTexts(ann, ['Hello <b>Bob</b>, can you hear me?', 'Loud and clear.']);
  // Bob's page clears the reply once his ack is back, which may come after Ann's copy.
  await bob.waitForSelector('#panel-chat .chat-replying', { state: 'hidden', timeout: 5000 });
  assert.is(await ann.textContent('#panel-chat .chat-message:nth-child(2) .chat-quote'), 'Ann: Hello <b>Bob</b>, can you hear me?');
  await ann.getByLabel('Message', { exact: true }).fill('Great. Multi-line\nnotes work too.');
  await ann.getByLabel('Message', { exact: true }).press('Enter');
  const conversation = ['Hello <b>Bob</b>, can you hear me?', 'Loud and clear.', 'Great. Multi-line\nnotes work too.'];
  await waitForTexts(bob, conversation);
  await waitForTexts(ann, conversation);
  // Ann, a host, may delete every message.
  assert.is(await ann.locator('#panel-chat .chat-delete').count(), 3);
  await saveScreenshot(ann, 'chat-host');

  // Bob reloads: a new connection joins again and the history is back.
  await bob.reload();
  await bob.waitForSelector('#call:not([hidden])', { timeout: 10_000 });
  await bob.getByRole('tab', { name: 'Chat' }).click(); // nothing unread: history is not news
  await waitForTexts(bob, conversation);
  assert.is(await bob.locator('#panel-chat .chat-delete').count(), 1, 'his own message only');
  await saveScreenshot(bob, 'chat-viewer-after-reload');

  // Ann deletes her first message: it disappears on both pages.
  await ann.getByRole('button', { name: /^Delete message from Ann: Hello/ }).click();
  await waitForTexts(bob, conversation.slice(1));
  await waitForTexts(ann, conversation.slice(1));
  assert.is(await bob.textContent('#panel-chat .chat-quote'), 'a deleted message', "Bob's answer no longer quotes it");
  const stored = await srv.api('GET', `/api/v1/rooms/${ROOM}/chat`);
  assert.equal(
    stored.body.messages.map((m: { text: string }) => m.text),
    conversation.slice(1),
  );

  // Phone width: the panel stacks under the stage and stays usable.
  await bob.setViewportSize({ width: 390, height: 800 });
  await bob.getByLabel('Message', { exact: true }).fill('From my phone');
  await bob.getByLabel('Message', { exact: true }).press('Enter');
  await waitForTexts(ann, [...conversation.slice(1), 'From my phone']);
  const panelBox = await bob.locator('#panel-chat').boundingBox();
  assert.ok(panelBox && panelBox.width <= 390, `the panel fits the phone (${panelBox?.width})`);
  await saveScreenshot(bob, 'chat-phone');

  assert.equal(await texts(bob), [...conversation.slice(1), 'From my phone']);
  assert.equal(ctx.errors, []);
});

test.run();
