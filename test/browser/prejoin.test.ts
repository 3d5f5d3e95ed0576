// The pre-join screen and devices in real headless Chromium (two fake
// cameras, three fake microphones and speakers): the preview plays, the mic
// level meter moves, the pickers list the devices and the choices persist;
// "Join muted" shows on the other page as a mic-off badge; switching the
// camera and the microphone mid-call keeps the producers (no renegotiation)
// while the other page keeps decoding; a viewer gets no preview; no device and
// a refused permission are explained and the user still joins, listening.
// Run inside a private network namespace (npm test does): WebRTC must stay on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, prepareBrowserTests, saveScreenshot } from '../support/chromium.js';
import { eventually } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

const ROOM = 'prejoin';
const VIEWPORT = { width: 1280, height: 800 };

/** What the tests read from a page: the demo's live client, and the device requests it made. */
interface LocalTrackView {
  track: MediaStreamTrack;
  producer: { id: string; paused: boolean } | null;
}
interface DemoWindow {
  switchboardDemo: {
    client: {
      participantId: string | null;
      localTracks: Map<string, LocalTrackView>;
      remoteTracks: Map<string, { participantId: string; kind: string; consumerId: string }>;
      muted: { audio: boolean; video: boolean };
    } | null;
  };
  getUserMediaCalls: number;
  capturedTracks: MediaStreamTrack[];
}

interface Ctx {
  srv: TestServer;
  profiles: string[];
  context: BrowserContext;
  errors: string[];
  ann: Page;
  bob: Page;
  annId: string;
  speakerId: string;
}

const test = suite<Ctx>('demo: the pre-join screen and devices', {} as Ctx);

/**
 * Three fake cameras (Chromium also lists three fake microphones and three
 * speakers). fake_device_1 sends Y16 frames (a depth camera): a <video> shows
 * them but WebRTC encodes nothing, so the tests pick cameras 0 and 2 (I420, MJPEG).
 */
const FLAGS = CHROMIUM_FLAGS.map((f) =>
  f === '--use-fake-device-for-media-stream' ? '--use-fake-device-for-media-stream=device-count=3' : f,
);

async function launch(ctx: Ctx, args: string[]): Promise<BrowserContext> {
  const profile = mkdtempSync(path.join(tmpdir(), 'switchboard-chromium-'));
  ctx.profiles.push(profile);
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args, viewport: VIEWPORT });
  // Counts device requests and keeps the tracks they gave (to see them stopped).
  await context.addInitScript(() => {
    const w = window as unknown as DemoWindow;
    w.getUserMediaCalls = 0;
    w.capturedTracks = [];
    const md = navigator.mediaDevices;
    const original = md.getUserMedia.bind(md);
    md.getUserMedia = async (constraints) => {
      w.getUserMediaCalls++;
      const stream = await original(constraints);
      w.capturedTracks.push(...stream.getTracks());
      return stream;
    };
  });
  return context;
}

test.before(async (ctx) => {
  prepareBrowserTests();
  ctx.profiles = [];
  ctx.errors = [];
  ctx.srv = await startServer({ sfuWorkers: 1, devKeys: true });
  ctx.context = await launch(ctx, FLAGS);
});

test.after(async (ctx) => {
  await ctx.context?.close().catch(() => {});
  await ctx.srv?.stop().catch(() => {});
  for (const profile of ctx.profiles ?? []) rmSync(profile, { recursive: true, force: true });
});

async function newPage(ctx: Ctx, context = ctx.context): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => ctx.errors.push(`pageerror: ${String(err)}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') ctx.errors.push(`console: ${msg.text()}`);
  });
  return page;
}

/** The demo's client state, read in the page. */
function clientState(page: Page) {
  return page.evaluate(() => {
    const c = (window as unknown as DemoWindow).switchboardDemo.client;
    const local = (source: string) => {
      const t = c?.localTracks.get(source);
      return t
        ? {
            label: t.track.label,
            enabled: t.track.enabled,
            live: t.track.readyState === 'live',
            producer: t.producer?.id ?? null,
            paused: t.producer?.paused ?? null,
          }
        : null;
    };
    return {
      participantId: c?.participantId ?? null,
      mic: local('mic'),
      camera: local('camera'),
      muted: c ? { ...c.muted } : null,
      localCount: c?.localTracks.size ?? 0,
    };
  });
}

/** Frames the page decoded from a participant's camera (the <video> in their tile). */
function decodedFrames(page: Page, participantId: string): Promise<number> {
  return page.evaluate((id) => {
    const video = document.querySelector<HTMLVideoElement>(`.tile[data-participant="${id}"][data-kind="camera"] video`);
    return video && video.videoWidth > 0 ? video.getVideoPlaybackQuality().totalVideoFrames : 0;
  }, participantId);
}

function gumCalls(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as DemoWindow).getUserMediaCalls);
}

/** Opens the room's link and waits for the development form (name, room, role). */
async function openForm(ctx: Ctx, page: Page): Promise<void> {
  await page.goto(`${ctx.srv.url}/r/${ROOM}`);
  await page.waitForSelector('#join-form[data-mode="dev"]', { timeout: 5000 });
}

async function joinAs(page: Page, name: string): Promise<void> {
  await page.getByLabel('Display name').fill(name);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.waitForSelector('#call:not([hidden])', { timeout: 10_000 });
}

test('a speaker sees the camera preview, the mic level moves, the devices are listed and the choices persist', async (ctx) => {
  const ann = (ctx.ann = await newPage(ctx));
  await openForm(ctx, ann);
  assert.is(await ann.getByLabel('Role').inputValue(), 'speaker');
  // The preview plays.
  await ann.waitForSelector('#prejoin:not([hidden])', { timeout: 5000 });
  await ann.waitForFunction(() => (document.querySelector<HTMLVideoElement>('#prejoin video')?.videoWidth ?? 0) > 0, undefined, {
    timeout: 10_000,
  });
  assert.ok(await ann.getByLabel('Your camera preview').isVisible());
  // The level meter moves with the fake microphone's beeps.
  const meter = ann.getByRole('meter', { name: 'Microphone level' });
  const levels = new Set<number>();
  await eventually(
    async () => {
      levels.add(await meter.evaluate((m: HTMLMeterElement) => m.value));
      return levels.size >= 3 && Math.max(...levels) > 0.1;
    },
    10_000,
    'the microphone level to move',
  );
  // Every fake device is offered.
  const options = (label: string) => ann.locator('#prejoin').getByLabel(label, { exact: true }).locator('option').allTextContents();
  assert.equal(await options('Camera'), ['fake_device_0', 'fake_device_1', 'fake_device_2']);
  assert.equal(await options('Microphone'), ['Fake Default Audio Input', 'Fake Audio Input 1', 'Fake Audio Input 2']);
  assert.equal(await options('Speaker'), ['Fake Default Audio Output', 'Fake Audio Output 1', 'Fake Audio Output 2']);
  assert.ok(await ann.getByRole('button', { name: 'Test speaker' }).isVisible());

  // Another camera: the preview switches to it.
  await ann.locator('#prejoin').getByLabel('Camera', { exact: true }).selectOption({ label: 'fake_device_2' });
  await ann.waitForFunction(
    () =>
      (document.querySelector<HTMLVideoElement>('#prejoin video')?.srcObject as MediaStream | null)?.getVideoTracks()[0]?.label ===
      'fake_device_2',
    undefined,
    { timeout: 5000 },
  );
  await ann.getByLabel('Join muted').check();
  await ann.getByLabel('Display name').fill('Ann');
  await ann.waitForFunction(() => (document.querySelector<HTMLVideoElement>('#prejoin video')?.videoWidth ?? 0) > 0, undefined, {
    timeout: 10_000,
  });
  await saveScreenshot(ann, 'app-prejoin');
  // At phone width the preview stacks over the form, nothing wider than the screen.
  await ann.setViewportSize({ width: 390, height: 844 });
  assert.ok(await ann.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling at 390 px');
  assert.ok(await ann.getByLabel('Your camera preview').isVisible());
  await saveScreenshot(ann, 'app-prejoin-phone');
  await ann.setViewportSize(VIEWPORT);

  // Choices survive a reload.
  await ann.reload();
  await ann.waitForSelector('#prejoin:not([hidden])', { timeout: 5000 });
  await ann.waitForFunction(() => (document.querySelector<HTMLVideoElement>('#prejoin video')?.videoWidth ?? 0) > 0, undefined, {
    timeout: 10_000,
  });
  assert.ok(await ann.getByLabel('Join muted').isChecked());
  assert.is(
    await ann
      .locator('#prejoin')
      .getByLabel('Camera', { exact: true })
      .evaluate((s: HTMLSelectElement) => s.selectedOptions[0]?.textContent),
    'fake_device_2',
  );
  assert.equal(ctx.errors, []);
});

test('join: the preview tracks are published (no second capture); "Join muted" shows as mic off on the other page', async (ctx) => {
  const { ann } = ctx;
  const before = await gumCalls(ann);
  await joinAs(ann, 'Ann');
  await eventually(async () => (await clientState(ann)).localCount === 2, 10_000, 'the camera and mic published');
  const state = await clientState(ann);
  ctx.annId = state.participantId!;
  assert.is(await gumCalls(ann), before, 'the camera and mic are not opened again');
  assert.is(state.camera?.label, 'fake_device_2', 'the chosen camera is published');
  assert.equal(state.muted, { audio: true, video: false });
  assert.is(state.mic?.paused, true, 'the mic is published paused');
  assert.is(state.mic?.enabled, false);
  assert.ok(await ann.isHidden('#prejoin'), 'the pre-join screen is gone');

  // Bob joins from the same browser profile: "Join muted" was remembered, he unticks it.
  const bob = (ctx.bob = await newPage(ctx));
  await openForm(ctx, bob);
  await bob.waitForSelector('#prejoin:not([hidden])', { timeout: 5000 });
  assert.ok(await bob.getByLabel('Join muted').isChecked(), 'the choice persisted');
  await bob.getByLabel('Join muted').uncheck();
  await bob.getByLabel('Role').selectOption('host');
  await joinAs(bob, 'Bob');
  const annTile = `.tile[data-participant="${ctx.annId}"][data-kind="camera"]`;
  await bob.waitForSelector(`${annTile} .mic-off:not([hidden])`, { timeout: 10_000 });
  assert.ok(await bob.isHidden(`${annTile} .cam-off`));
  await eventually(async () => (await decodedFrames(bob, ctx.annId)) > 10, 15_000, "Bob decodes Ann's camera");
  // Ann sees Bob unmuted.
  const bobId = (await clientState(bob)).participantId!;
  await ann.waitForSelector(`.tile[data-participant="${bobId}"][data-kind="camera"]`, { timeout: 10_000 });
  assert.ok(await ann.isHidden(`.tile[data-participant="${bobId}"][data-kind="camera"] .mic-off`));
  assert.equal(ctx.errors, []);
});

test('mid-call the Devices panel switches camera and microphone on the same producers; the other page keeps decoding', async (ctx) => {
  const { ann, bob, annId } = ctx;
  const before = await clientState(ann);
  const consumersBefore = await bob.evaluate(
    (id) =>
      [...((window as unknown as DemoWindow).switchboardDemo.client?.remoteTracks.values() ?? [])]
        .filter((t) => t.participantId === id)
        .map((t) => t.consumerId)
        .sort(),
    annId,
  );
  assert.is(consumersBefore.length, 2);

  await ann.getByRole('tab', { name: 'Devices' }).click();
  const panel = ann.getByRole('tabpanel', { name: 'Devices' });
  assert.equal(await panel.getByLabel('Camera', { exact: true }).locator('option').allTextContents(), [
    'fake_device_0',
    'fake_device_1',
    'fake_device_2',
  ]);
  assert.is(
    await panel.getByLabel('Camera', { exact: true }).evaluate((s: HTMLSelectElement) => s.selectedOptions[0]?.textContent),
    'fake_device_2',
  );
  await panel.getByLabel('Camera', { exact: true }).selectOption({ label: 'fake_device_0' });
  await eventually(async () => (await clientState(ann)).camera?.label === 'fake_device_0', 10_000, 'the camera switched');
  const frames = await decodedFrames(bob, annId);
  await eventually(async () => (await decodedFrames(bob, annId)) > frames + 30, 15_000, "Bob keeps decoding Ann's camera after the switch");

  await panel.getByLabel('Microphone', { exact: true }).selectOption({ label: 'Fake Audio Input 2' });
  await eventually(async () => (await clientState(ann)).mic?.label === 'Fake Audio Input 2', 10_000, 'the microphone switched');
  const after = await clientState(ann);
  assert.is(after.camera?.producer, before.camera?.producer, 'the same camera producer');
  assert.is(after.mic?.producer, before.mic?.producer, 'the same mic producer');
  assert.is(after.mic?.enabled, false, 'still muted');
  assert.is(after.mic?.paused, true);
  // The old tracks are stopped (the camera light goes off).
  const live = await ann.evaluate(() =>
    (window as unknown as DemoWindow).capturedTracks
      .filter((t) => t.readyState === 'live')
      .map((t) => t.label)
      .sort(),
  );
  assert.equal(live, ['Fake Audio Input 2', 'fake_device_0']);
  // Bob's consumers are the ones he had: nothing was renegotiated.
  const consumersAfter = await bob.evaluate(
    (id) =>
      [...((window as unknown as DemoWindow).switchboardDemo.client?.remoteTracks.values() ?? [])]
        .filter((t) => t.participantId === id)
        .map((t) => t.consumerId)
        .sort(),
    annId,
  );
  assert.equal(consumersAfter, consumersBefore);
  // Unmuting the switched microphone: Bob sees the badge go.
  await ann.getByRole('button', { name: 'Unmute mic' }).click();
  await bob.waitForSelector(`.tile[data-participant="${annId}"][data-kind="camera"] .mic-off[hidden]`, {
    state: 'attached',
    timeout: 10_000,
  });
  assert.is((await clientState(ann)).mic?.enabled, true);
  // The speaker: every remote <audio> plays there (Bob's mic now, later arrivals too: see below).
  const speaker = panel.getByLabel('Speaker', { exact: true });
  await speaker.selectOption({ label: 'Fake Audio Output 1' });
  ctx.speakerId = await speaker.inputValue();
  await eventually(
    async () => {
      const sinks = await ann.evaluate(() => Array.from(document.querySelectorAll<HTMLAudioElement>('#tiles audio'), (a) => a.sinkId));
      return sinks.length > 0 && sinks.every((id) => id === ctx.speakerId);
    },
    5000,
    "Bob's audio on the chosen speaker",
  );
  await saveScreenshot(ann, 'app-devices');
  assert.equal(ctx.errors, []);
});

test('a viewer gets no preview: choosing the viewer role stops the camera and mic', async (ctx) => {
  const page = await newPage(ctx);
  await openForm(ctx, page);
  await page.getByLabel('Role').selectOption('speaker');
  await page.waitForFunction(() => (document.querySelector<HTMLVideoElement>('#prejoin video')?.videoWidth ?? 0) > 0, undefined, {
    timeout: 10_000,
  });
  await page.getByLabel('Role').selectOption('viewer');
  await page.waitForSelector('#prejoin', { state: 'hidden', timeout: 5000 });
  await eventually(
    () => page.evaluate(() => (window as unknown as DemoWindow).capturedTracks.every((t) => t.readyState === 'ended')),
    5000,
    'the preview tracks stopped',
  );
  const calls = await gumCalls(page);
  await joinAs(page, 'Vera');
  assert.is((await clientState(page)).localCount, 0);
  assert.is(await gumCalls(page), calls, 'a viewer asks for no device');
  assert.ok(await page.isHidden('#toggle-audio'));
  await page.close();
  assert.equal(ctx.errors, []);
});

test('no camera or microphone: the screen says so and the user joins listening only', async (ctx) => {
  const page = await newPage(ctx);
  // A machine without devices: the list is empty and a request fails.
  await page.addInitScript(() => {
    const md = navigator.mediaDevices;
    md.enumerateDevices = () => Promise.resolve([]);
    md.getUserMedia = () => Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
  });
  await openForm(ctx, page);
  await page.getByLabel('Role').selectOption('speaker');
  const message = page.locator('#prejoin').getByRole('status');
  await message.waitFor({ timeout: 5000 });
  assert.match((await message.textContent()) ?? '', /No camera or microphone found/);
  assert.ok(await page.locator('#prejoin').getByLabel('Camera', { exact: true }).isHidden(), 'no empty picker');
  await joinAs(page, 'Nadia');
  const id = (await clientState(page)).participantId!;
  // The demo mutes what is missing one track after the other once joined: awaited, not sampled.
  await eventually(
    async () => {
      const muted = (await clientState(page)).muted;
      return muted?.audio === true && muted.video === true;
    },
    5000,
    'what is missing shows as off',
  );
  await ctx.bob.waitForSelector(`.tile[data-participant="${id}"][data-kind="camera"] .mic-off:not([hidden])`, { timeout: 10_000 });
  await ctx.bob.waitForSelector(`.tile[data-participant="${id}"][data-kind="camera"] .cam-off:not([hidden])`, { timeout: 10_000 });
  await page.close();
  assert.equal(ctx.errors, []);
});

test('"Join without camera": the camera is never opened, others see it off; Start camera publishes it then', async (ctx) => {
  const page = await newPage(ctx);
  await openForm(ctx, page);
  await page.getByLabel('Role').selectOption('speaker');
  await page.getByLabel('Join without camera').check();
  await page.getByLabel('Join muted').uncheck();
  await page.waitForSelector('#prejoin.pj-no-video', { timeout: 5000 });
  // The camera the page opened before the box was ticked is off now.
  const cameras = () =>
    page.evaluate(() => (window as unknown as DemoWindow).capturedTracks.filter((t) => t.kind === 'video').map((t) => t.readyState));
  await eventually(async () => (await cameras()).every((state) => state === 'ended'), 5000, 'the preview camera stopped');
  const opened = (await cameras()).length;
  assert.match((await page.locator('.pj-placeholder').textContent()) ?? '', /without camera/);
  await eventually(
    () => page.evaluate(() => (window as unknown as DemoWindow).capturedTracks.some((t) => t.kind === 'audio' && t.readyState === 'live')),
    5000,
    'the mic preview',
  );
  await joinAs(page, 'Cam');
  await eventually(async () => (await clientState(page)).mic !== null, 10_000, 'the mic published');
  const state = await clientState(page);
  assert.is(state.camera, null);
  assert.equal(state.muted, { audio: false, video: true });
  assert.equal(await cameras(), Array<string>(opened).fill('ended'), 'no camera opened since');
  const tile = `.tile[data-participant="${state.participantId}"][data-kind="camera"]`;
  await ctx.bob.waitForSelector(`${tile} .cam-off:not([hidden])`, { timeout: 10_000 });
  // Start camera: captured (the camera chosen before) and published now.
  await page.getByRole('button', { name: 'Start camera' }).click();
  await eventually(async () => (await clientState(page)).camera?.live === true, 10_000, 'the camera published');
  assert.is((await clientState(page)).camera?.label, 'fake_device_0', 'the camera last chosen');
  await ctx.bob.waitForSelector(`${tile} .cam-off[hidden]`, { state: 'attached', timeout: 10_000 });
  await eventually(async () => (await decodedFrames(ctx.bob, state.participantId!)) > 10, 15_000, 'Bob decodes the camera');
  // Ann hears the newcomer on the speaker she chose in the Devices panel.
  await eventually(
    () =>
      ctx.ann.evaluate(
        ({ id, sink }) => document.querySelector<HTMLAudioElement>(`.tile[data-participant="${id}"] audio`)?.sinkId === sink,
        { id: state.participantId!, sink: ctx.speakerId },
      ),
    10_000,
    "the newcomer's audio on Ann's chosen speaker",
  );
  await page.evaluate(() => localStorage.setItem('switchboard.joinWithoutCamera', 'false')); // the next pages preview the camera again
  await page.close();
  assert.equal(ctx.errors, []);
});

test('permission refused: the screen explains it and the user still joins, listening; unmuting asks again', async (ctx) => {
  // A browser that refuses every camera/microphone prompt (no fake-UI auto-accept).
  const denied = await launch(ctx, [...CHROMIUM_FLAGS.filter((f) => f !== '--use-fake-ui-for-media-stream'), '--deny-permission-prompts']);
  try {
    const page = await newPage(ctx, denied);
    await openForm(ctx, page);
    const message = page.locator('#prejoin').getByRole('status');
    await message.waitFor({ timeout: 5000 });
    assert.match((await message.textContent()) ?? '', /blocked the camera and microphone/);
    assert.ok(await page.getByRole('button', { name: 'Try again' }).isVisible());
    assert.ok(await page.getByRole('button', { name: 'Join', exact: true }).isEnabled());
    await page.getByLabel('Display name').fill('Dora');
    await saveScreenshot(page, 'app-prejoin-denied');
    await joinAs(page, 'Dora');
    const state = await clientState(page);
    assert.is(state.localCount, 0);
    assert.equal(state.muted, { audio: true, video: true });
    await ctx.bob.waitForSelector(`.tile[data-participant="${state.participantId}"][data-kind="camera"] .mic-off:not([hidden])`, {
      timeout: 10_000,
    });
    // She hears Bob, and her Unmute asks for the mic again: refused, she stays muted and is told.
    await eventually(
      () => page.evaluate(() => (window as unknown as DemoWindow).switchboardDemo.client?.remoteTracks.size ?? 0),
      10_000,
      'Bob reaches Dora',
    );
    await page.getByRole('button', { name: 'Unmute mic' }).click();
    await page.waitForSelector('#error:not([hidden])', { timeout: 5000 });
    assert.match((await page.textContent('#error')) ?? '', /Permission denied/);
    assert.equal((await clientState(page)).muted, { audio: true, video: true });
    await page.close();
  } finally {
    await denied.close();
  }
  assert.equal(ctx.errors, []);
});

test.run();
