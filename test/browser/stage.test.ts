// The demo's stage in real headless Chromium, three people publishing: video
// plays on the others' pages; with two tiles a page the tile on page 2 has
// its consumer paused on the server until the user turns the page; small
// tiles ask the SFU for the lowest simulcast layer and a featured one for
// the highest; the layout control switches to speaker, a screen share turns
// it into presenter; deafen shows on the others' tiles and mutes every
// remote <audio> here while this user stays audible; a participant's volume
// slider; a reaction clicked on one page floats on the others.
// Run inside a private network namespace (npm test does): WebRTC must stay on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { MediaRoom } from '../../sfu/mediaRoom.js';
import { CHROMIUM, CHROMIUM_FLAGS, prepareBrowserTests, saveScreenshot } from '../support/chromium.js';
import { eventually } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

const ROOM = 'stage-room';

/** What the tests read from the page: its live client. */
interface DemoWindow {
  switchboardDemo: {
    client: {
      participantId: string | null;
      producers: Map<string, { participant_id: string; kind: string; source: string }>;
      remoteTracks: Map<string, { consumerId: string; subscriptionPaused: boolean }>;
    } | null;
  };
}

/** The server's view of one consumer (the SFU's internals, read-only). */
interface ConsumerView {
  paused: boolean;
  preferredLayers?: { spatialLayer: number; temporalLayer?: number };
}

interface Person {
  page: Page;
  id: string;
  name: string;
}

interface Ctx {
  srv: TestServer;
  profile: string;
  context: BrowserContext;
  errors: string[];
  ann: Person;
  bob: Person;
  cat: Person;
}

const test = suite<Ctx>('demo: the stage', {} as Ctx);

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

/** Opens the room's link with a token for this person; resolves once in the room. */
async function open(
  ctx: Ctx,
  name: string,
  role: 'host' | 'speaker',
  query = '',
  viewport = { width: 1280, height: 800 },
): Promise<Person> {
  const page = await ctx.context.newPage();
  await page.setViewportSize(viewport);
  page.on('pageerror', (err) => ctx.errors.push(`${name}: ${String(err)}`));
  page.on('console', (m) => {
    // The join form's probe (POST /dev/token with no body: 400 says the server hands out tokens) is expected.
    if (m.type() === 'error' && !m.location().url.endsWith('/dev/token')) ctx.errors.push(`${name} console: ${m.text()}`);
  });
  const token = await ctx.srv.mint({ userId: name.toLowerCase(), name, role, room: ROOM });
  await page.goto(`${ctx.srv.url}/r/${ROOM}${query}#token=${encodeURIComponent(token)}`);
  await page.waitForSelector('#call:not([hidden])', { timeout: 10_000 });
  const id = await page.evaluate(() => (window as unknown as DemoWindow).switchboardDemo.client?.participantId ?? null);
  assert.ok(id, `${name} joined`);
  return { page, id, name };
}

function media(ctx: Ctx): MediaRoom {
  const m = ctx.srv.app.rooms.getRoom(ROOM)?.media;
  assert.ok(m, 'the room has media');
  return m;
}

/** The server's consumer that `viewer` has of `of`'s camera (or screen). */
async function consumerOf(ctx: Ctx, viewer: Person, of: Person, source = 'camera'): Promise<ConsumerView> {
  const consumerId = await eventually(
    () =>
      viewer.page.evaluate(
        ({ participant, source }) => {
          const c = (window as unknown as DemoWindow).switchboardDemo.client!;
          for (const [id, p] of c.producers) {
            if (p.participant_id === participant && p.source === source) return c.remoteTracks.get(id)?.consumerId ?? null;
          }
          return null;
        },
        { participant: of.id, source },
      ),
    15_000,
    `${viewer.name} consumes ${of.name}'s ${source}`,
  );
  const state = (media(ctx) as unknown as { state: { peers: Map<string, { consumers: Map<string, { consumer: ConsumerView }> }> } }).state;
  const entry = state.peers.get(viewer.id)?.consumers.get(consumerId as string);
  assert.ok(entry, `the server has ${viewer.name}'s consumer ${consumerId}`);
  return entry.consumer;
}

/** A tile's <video> decodes frames (its size is known and time moves). */
async function videoPlays(page: Page, participantId: string, kind = 'camera'): Promise<void> {
  await page.waitForFunction(
    ({ id, kind }) => {
      const v = document.querySelector<HTMLVideoElement>(`.tile[data-participant="${id}"][data-kind="${kind}"] video`);
      return !!v && v.videoWidth > 0 && v.currentTime > 0.2;
    },
    { id: participantId, kind },
    { timeout: 20_000 },
  );
}

function tile(p: Person, kind = 'camera'): string {
  return `.tile[data-participant="${p.id}"][data-kind="${kind}"]`;
}

test('three people: everyone sees and hears the others; roles on the tiles', async (ctx) => {
  ctx.ann = await open(ctx, 'Ann', 'host', '?pageSize=2');
  ctx.bob = await open(ctx, 'Bob', 'speaker');
  ctx.cat = await open(ctx, 'Cat', 'speaker', '', { width: 640, height: 480 });
  const { ann, bob, cat } = ctx;
  await bob.page.waitForFunction(() => document.querySelectorAll('.tile[data-kind="camera"]').length === 3, undefined, { timeout: 10_000 });
  await videoPlays(bob.page, ann.id);
  await videoPlays(bob.page, cat.id);
  await videoPlays(cat.page, ann.id);
  assert.is(await bob.page.textContent(`${tile(ann)} .role`), 'host');
  assert.is(await bob.page.textContent(`${tile(cat)} .role`), 'speaker');
  assert.is(await bob.page.textContent(`${tile(bob)} .name`), 'Bob (you)');
  // Every remote participant's audio arrives as an <audio> element on their tile.
  await bob.page.waitForFunction(() => document.querySelectorAll('#tiles audio').length === 2, undefined, { timeout: 10_000 });
  await bob.page.waitForTimeout(300); // let the video paint for the picture
  await saveScreenshot(bob.page, 'stage-grid'); // docs/img/app-grid.png is taken from it
});

test('pages: the tile on page 2 is paused on the server until the user turns to it', async (ctx) => {
  const { ann, bob, cat } = ctx;
  const pager = ann.page.getByRole('navigation', { name: 'Pages' });
  await pager.waitFor({ timeout: 10_000 });
  assert.is(await ann.page.textContent('#page-label'), 'Page 1 of 2');
  assert.ok(await ann.page.isVisible(tile(ann)), 'own tile on page 1');
  assert.ok(await ann.page.isVisible(tile(bob)));
  assert.ok(await ann.page.isHidden(tile(cat)), "Cat's tile is on page 2");
  assert.ok(await ann.page.getByRole('button', { name: 'Previous page' }).isDisabled());
  const catOnAnn = await consumerOf(ctx, ann, cat);
  const bobOnAnn = await consumerOf(ctx, ann, bob);
  await eventually(() => catOnAnn.paused, 5000, "Ann's consumer of Cat's camera paused");
  assert.is(bobOnAnn.paused, false, "Bob's camera flows");
  await videoPlays(ann.page, bob.id);

  await ann.page.getByRole('button', { name: 'Next page' }).click();
  assert.is(await ann.page.textContent('#page-label'), 'Page 2 of 2');
  assert.ok(await ann.page.isHidden(tile(bob)));
  await eventually(() => !catOnAnn.paused && bobOnAnn.paused, 5000, 'Cat resumed, Bob paused');
  await videoPlays(ann.page, cat.id);
  assert.ok(
    await ann.page.evaluate(
      (id) =>
        [...(window as unknown as DemoWindow).switchboardDemo.client!.remoteTracks.values()].some(
          (t) => t.consumerId === id && !t.subscriptionPaused,
        ),
      (catOnAnn as unknown as { id: string }).id,
    ),
    'the SDK says so too',
  );
  await ann.page.getByRole('button', { name: 'Previous page' }).click();
  await eventually(() => catOnAnn.paused && !bobOnAnn.paused, 5000, 'back on page 1');
});

test('layers: a small tile asks for layer 0, a featured one for layer 2 (speaker layout by the control)', async (ctx) => {
  const { ann, bob, cat } = ctx;
  // Cat's page is 640 px wide: two columns of tiles under 320 px.
  const width = await cat.page.$eval(tile(ann), (e) => e.clientWidth);
  assert.ok(width < 320, `tile ${width} px wide`);
  const annOnCat = await consumerOf(ctx, cat, ann);
  await eventually(() => annOnCat.preferredLayers?.spatialLayer === 0, 5000, 'layer 0 asked');
  // Ann's page: two tiles a row on 1280 px, then the speaker layout makes one big.
  const bobOnAnn = await consumerOf(ctx, ann, bob);
  await eventually(() => bobOnAnn.preferredLayers?.spatialLayer === 1, 5000, 'layer 1 for a half-width tile');
  await ann.page.locator('#layout').selectOption('speaker');
  await ann.page.waitForSelector('#tiles[data-layout="speaker"] .tile.featured', { timeout: 5000 });
  // The active speaker (the fake microphones all beep) or, before anyone spoke, the first other person; never Ann herself.
  const bobOnAnnNow = await consumerOf(ctx, ann, bob);
  const catOnAnn = await consumerOf(ctx, ann, cat);
  // The featured tile follows the active speaker (both fake microphones beep), so it may change hands:
  // whoever is featured when we look has asked for layer 2.
  const other = await eventually<Person | undefined>(
    async () => {
      const featured = await ann.page.$eval('.tile.featured', (e) => (e as HTMLElement).dataset['participant']);
      assert.ok(featured === bob.id || featured === cat.id, `someone else is featured (${featured})`);
      const big = featured === bob.id ? bobOnAnnNow : catOnAnn;
      return big.preferredLayers?.spatialLayer === 2 && !big.paused ? (featured === bob.id ? bob : cat) : undefined;
    },
    10_000,
    'layer 2 for the featured tile',
  ).then((p) => p!);
  const widths = await ann.page.$$eval('.tile', (els) =>
    els.map((e) => `${(e as HTMLElement).dataset['participant']}:${e.className}:${e.clientWidth}`),
  );
  const bigWidth = await ann.page.$eval('.tile.featured', (e) => e.clientWidth);
  assert.ok(bigWidth >= 640, `featured tile ${bigWidth} px wide (${widths.join(' ')})`);
  await videoPlays(ann.page, other.id);
  // The fake microphones beep: the SFU names an active speaker, and the big tile follows it (unless it is Ann).
  // Ann's own beep can keep her the dominant speaker, and she is never featured on her page: she mutes meanwhile.
  await ann.page.getByRole('button', { name: 'Mute mic' }).click();
  await ann.page.waitForSelector('#tiles[data-active-speaker]', { state: 'attached', timeout: 30_000 });
  await ann.page.waitForFunction(
    () => {
      const tiles = document.getElementById('tiles')!;
      return tiles.dataset['activeSpeaker'] === tiles.querySelector<HTMLElement>('.tile.featured')?.dataset['participant'];
    },
    undefined,
    { timeout: 5000 },
  ); // the featured tile is the active speaker
  await ann.page.getByRole('button', { name: 'Unmute mic' }).click();
  // The strip holds the rest on one page, all playing.
  assert.ok(await ann.page.isHidden('#pager'));
  for (const p of [bob, cat]) await videoPlays(ann.page, p.id);
  await ann.page.waitForTimeout(300);
  await saveScreenshot(ann.page, 'stage-speaker'); // docs/img/app-speaker.png is taken from it
});

test('a screen share is presented big (auto layout); stopping it brings the grid back', async (ctx) => {
  const { ann, bob } = ctx;
  await ann.page.locator('#layout').selectOption('auto');
  await bob.page.getByRole('button', { name: 'Share screen' }).click();
  await ann.page.waitForSelector(`#tiles[data-layout="presenter"] ${tile(bob, 'screen')}.featured`, { timeout: 10_000 });
  await videoPlays(ann.page, bob.id, 'screen');
  assert.match((await ann.page.textContent(`${tile(bob, 'screen')} .name`)) ?? '', /Bob: screen/);
  await saveScreenshot(ann.page, 'stage-presenter');
  await bob.page.getByRole('button', { name: 'Stop sharing' }).click();
  await ann.page.waitForSelector(tile(bob, 'screen'), { state: 'detached', timeout: 10_000 });
  await ann.page.waitForSelector('#tiles[data-layout="grid"]', { timeout: 5000 });
});

test('deafen: the others see the badge, every remote <audio> is muted here, and this user stays audible', async (ctx) => {
  const { ann, bob, cat } = ctx;
  const button = ann.page.getByRole('button', { name: 'Deafen' });
  await button.click();
  await ann.page.waitForSelector('#toggle-deafen[aria-pressed="true"]');
  await bob.page.waitForSelector(`${tile(ann)} .deafened:not([hidden])`, { timeout: 5000 });
  await cat.page.waitForSelector(`${tile(ann)} .deafened:not([hidden])`, { timeout: 5000 });
  const audio = await ann.page.$$eval('#tiles audio', (els) => els.map((a) => (a as HTMLAudioElement).muted));
  assert.ok(audio.length >= 2 && audio.every(Boolean), `Ann's remote audio muted: ${audio.join()}`);
  // Not a mute: Bob still plays Ann's audio, her mic producer is not paused, no mic-off badge.
  assert.is(await bob.page.$eval(`${tile(ann)} audio`, (a) => (a as HTMLAudioElement).muted), false);
  assert.ok(await bob.page.isHidden(`${tile(ann)} .mic-off`));
  const mic = media(ctx)
    .producerList()
    .find((p) => p.participant_id === ann.id && p.source === 'mic');
  assert.is(mic?.paused, false);
  await ann.page.getByRole('button', { name: 'Undeafen' }).click();
  await bob.page.waitForSelector(`${tile(ann)} .deafened`, { state: 'hidden', timeout: 5000 });
  assert.ok((await ann.page.$$eval('#tiles audio', (els) => els.map((a) => (a as HTMLAudioElement).muted))).every((m) => !m));
});

test("volume: a participant's slider sets their audio's volume", async (ctx) => {
  const { bob, cat } = ctx;
  await bob.page.getByRole('button', { name: 'Options for Cat' }).click();
  const slider = bob.page.getByLabel('Volume of Cat');
  assert.is(await slider.inputValue(), '100');
  await slider.fill('30');
  assert.is(await bob.page.$eval(`${tile(cat)} audio`, (a) => (a as HTMLAudioElement).volume), 0.3);
  await bob.page.keyboard.press('Escape');
  assert.ok(await bob.page.isHidden(`${tile(cat)} .tile-menu-body`));
});

test('a dropped connection: "Reconnecting…" over the stage until back; deafen survives the rejoin', async (ctx) => {
  const { srv, bob, cat } = ctx;
  await cat.page.getByRole('button', { name: 'Deafen' }).click();
  await bob.page.waitForSelector(`${tile(cat)} .deafened:not([hidden])`, { timeout: 5000 });
  const hub = srv.app.hub as unknown as {
    sessions: Set<{ ws: { terminate(): void }; participant: { identity: { userId: string } } | null }>;
  };
  const cats = [...hub.sessions].filter((s) => s.participant?.identity.userId === 'cat');
  assert.is(cats.length, 1);
  const banner = cat.page.getByRole('status').filter({ hasText: 'Reconnecting' });
  cats[0].ws.terminate();
  await banner.waitFor({ state: 'visible', timeout: 5000 });
  await banner.waitFor({ state: 'hidden', timeout: 20_000 });
  // Back with a new participant id: everyone sees the new Cat, still deafened, and Cat's page rebuilt its stage.
  const oldId = cat.id;
  cat.id = (await eventually(
    async () => {
      const id = await cat.page.evaluate(() => (window as unknown as DemoWindow).switchboardDemo.client?.participantId ?? null);
      return id !== oldId ? id : null;
    },
    10_000,
    'Cat rejoined',
  )) as string;
  await bob.page.waitForSelector(`${tile(cat)} .deafened:not([hidden])`, { timeout: 10_000 });
  await videoPlays(cat.page, bob.id);
  await cat.page.waitForFunction(() => document.querySelectorAll('#tiles audio').length === 2, undefined, { timeout: 10_000 });
  assert.ok((await cat.page.$$eval('#tiles audio', (els) => els.map((a) => (a as HTMLAudioElement).muted))).every(Boolean));
  assert.is(await cat.page.getAttribute('#toggle-deafen', 'aria-pressed'), 'true');
  await cat.page.getByRole('button', { name: 'Undeafen' }).click();
  await bob.page.waitForSelector(`${tile(cat)} .deafened`, { state: 'hidden', timeout: 5000 });
});

test('reactions: clicked on one page, the emoji floats over the sender on the others', async (ctx) => {
  const { ann, bob, cat } = ctx;
  await cat.page.getByRole('button', { name: 'React' }).click();
  await cat.page.getByRole('button', { name: 'React with heart' }).click();
  await bob.page.waitForSelector(`${tile(cat)} .reaction-float[data-reaction="heart"]`, { timeout: 5000 });
  await cat.page.waitForSelector(`${tile(cat)} .reaction-float[data-reaction="heart"]`, { timeout: 5000 });
  assert.is(await bob.page.textContent(`${tile(cat)} .reaction-float`), '❤️');
  // Cat is on Ann's page 2 (hidden tile): the float is there too, and goes away.
  await ann.page.waitForSelector(`${tile(cat)} .reaction-float`, { state: 'attached', timeout: 5000 });
  await bob.page.waitForSelector(`${tile(cat)} .reaction-float`, { state: 'detached', timeout: 6000 });
  assert.equal(ctx.errors, []);
});

test('phone width: tiles in two columns, every control reachable, nothing wider than the screen', async (ctx) => {
  const { cat } = ctx;
  await cat.page.setViewportSize({ width: 390, height: 800 });
  await cat.page.locator('#layout').selectOption('grid');
  await cat.page.waitForFunction(() => getComputedStyle(document.getElementById('tiles')!).getPropertyValue('--cols').trim() === '2');
  assert.ok(await cat.page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling');
  for (const name of ['Mute mic', 'Stop camera', 'Deafen', 'React', 'Leave']) {
    assert.ok(await cat.page.getByRole('button', { name, exact: true }).isVisible(), name);
  }
  await cat.page.waitForTimeout(300);
  await saveScreenshot(cat.page, 'stage-phone');
  assert.equal(ctx.errors, []);
});

test.run();
