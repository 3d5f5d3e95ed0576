// The demo's room-control panels in real headless Chromium, driven as users
// would (roles and accessible names): a speaker and a viewer raise a hand and
// the host sees the queue; the host mutes the speaker (the speaker's page shows
// its mic off), lets the viewer speak (a speaker now) and makes them a viewer
// again, records (everyone sees the banner; the
// Recordings tab then lists it with a link that downloads the file) and removes
// the speaker (whose page says so). A viewer is offered no moderation and no
// Record button. The lobby: the host turns the waiting room on, a guest waits
// on the waiting screen, the host admits them (they are in the call); another
// guest is declined and told so.
// Run inside a private network namespace (npm test does): WebRTC must stay on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { saveScreenshot } from '../support/chromium.js';
import { eventually } from '../support/net.js';
import { demoBrowser, inCall, openTab, type DemoBrowser } from './demoPages.js';

const test = suite<{ b: DemoBrowser }>('demo: people, moderation, recording, lobby', {} as { b: DemoBrowser });

test.before(async (ctx) => {
  ctx.b = await demoBrowser({ env: { KICK_BAN_SECONDS: '60' } });
});
test.after(async (ctx) => ctx.b?.close());

/** A participant's row in the People panel. */
function person(page: Page, name: string) {
  return page.locator('.people-list .person').filter({ has: page.locator('.person-name', { hasText: name }) });
}

test('people: raise hand, mute, change a role, record, remove; a viewer gets no moderation', async ({ b }) => {
  const room = 'panels';
  const host = await b.open({ id: 'hana', name: 'Hana', role: 'host', room });
  await inCall(host);
  const sam = await b.open({ id: 'sam', name: 'Sam', role: 'speaker', room });
  await inCall(sam);
  const vic = await b.open({ id: 'vic', name: 'Vic', role: 'viewer', room });
  await inCall(vic);
  await openTab(host, 'People');
  await person(host, 'Vic').waitFor({ timeout: 10_000 });
  assert.match(await person(host, 'Vic').locator('.person-role').innerText(), /Viewer/);

  // Sam, then Vic, raise a hand: the host sees the queue in that order.
  await sam.getByRole('button', { name: 'Raise hand' }).click();
  await sam.getByRole('button', { name: 'Lower hand' }).waitFor({ timeout: 5000 });
  await host.getByRole('list', { name: 'Raised hands' }).getByText('Sam').waitFor({ timeout: 5000 });
  await vic.getByRole('button', { name: 'Raise hand' }).click();
  await host.getByRole('list', { name: 'Raised hands' }).getByText('Vic').waitFor({ timeout: 5000 });
  assert.equal(await host.getByRole('list', { name: 'Raised hands' }).locator('.hand-name').allInnerTexts(), ['Sam', 'Vic']);
  await person(host, 'Sam').getByText('hand raised').waitFor({ timeout: 5000 });
  assert.match(await host.getByRole('tab', { name: /People/ }).innerText(), /People \(3\)/);
  // Sam publishes a mic: the host may mute it.
  await person(host, 'Sam').getByText('mic on').waitFor({ timeout: 10_000 });
  await saveScreenshot(host, 'app-moderation');

  // The host mutes Sam's mic (from the keyboard): Sam's page shows it off, and Sam's client is muted.
  await host.getByRole('button', { name: 'Mute Sam’s microphone' }).focus();
  await host.keyboard.press('Enter');
  await openTab(sam, 'People');
  await person(sam, 'Sam (you)').getByText('mic off').waitFor({ timeout: 5000 });
  await sam.waitForFunction(
    () => (window as unknown as { switchboardDemo: { client: { muted: { audio: boolean } } } }).switchboardDemo.client.muted.audio,
  );
  await person(host, 'Sam').getByText('mic off').waitFor({ timeout: 5000 });
  assert.is(await host.getByRole('button', { name: 'Mute Sam’s microphone' }).count(), 0, 'nothing left to mute');
  // The list was rebuilt: the keyboard focus stayed in Sam's row (the next control there).
  assert.is(await host.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Stop Sam’s camera');

  // The host lowers Sam's hand, and lets Vic speak (a viewer becomes a speaker): the queue empties.
  await host.getByRole('button', { name: 'Lower Sam’s hand' }).click();
  await sam.getByRole('button', { name: 'Raise hand' }).waitFor({ timeout: 5000 });
  await host.getByRole('button', { name: 'Let Vic speak' }).click();
  await vic.locator('#hand-status', { hasText: 'Hana lets you speak' }).waitFor({ timeout: 5000 });
  await host.getByRole('list', { name: 'Raised hands' }).waitFor({ state: 'hidden', timeout: 5000 });
  await vic.getByRole('button', { name: 'Raise hand' }).waitFor({ timeout: 5000 });
  await openTab(vic, 'People');
  await vic.waitForFunction(
    () =>
      Array.from(document.querySelectorAll('.people-list .person')).some(
        (li) =>
          li.querySelector('.person-name')?.textContent === 'Vic (you)' && li.querySelector('.person-role')?.textContent === 'Speaker',
      ),
    undefined,
    { timeout: 5000 },
  );
  // ... and back to viewer, which takes publishing away again.
  await host.getByRole('combobox', { name: 'Role of Vic' }).selectOption('viewer');
  await person(host, 'Vic').locator('.person-role', { hasText: 'Viewer' }).waitFor({ timeout: 5000 });

  // A viewer is offered no moderation and no recording.
  await person(vic, 'Vic (you)').locator('.person-role', { hasText: 'Viewer' }).waitFor({ timeout: 5000 });
  assert.is(await vic.locator('.person-actions').count(), 0, 'no per-person actions');
  assert.ok(await vic.getByRole('button', { name: 'Mute all' }).isHidden());
  assert.ok(await vic.locator('#toggle-recording').isHidden(), 'no Record button');
  assert.is(await vic.getByRole('tab', { name: /Lobby|Recordings/ }).count(), 0, 'no staff tabs');
  assert.ok(await vic.getByRole('button', { name: 'Raise hand' }).isVisible(), 'a viewer may ask to speak');
  // A speaker neither.
  assert.is(await sam.locator('.person-actions').count(), 0);
  assert.ok(await sam.locator('#toggle-recording').isHidden());

  // Recording: the host records; everyone sees the banner, then its end.
  await host.getByRole('button', { name: 'Record' }).click();
  for (const page of [host, sam, vic]) {
    await page.locator('#recording-status', { hasText: 'Recording' }).waitFor({ timeout: 10_000 });
  }
  await saveScreenshot(sam, 'app-recording-banner');
  await host.waitForTimeout(2500); // a few seconds of media in the file
  await host.getByRole('button', { name: 'Stop recording' }).click();
  for (const page of [host, sam, vic]) await page.locator('#recording-status').waitFor({ state: 'hidden', timeout: 30_000 });

  // The Recordings tab lists it, ready, with a link that downloads the file.
  await openTab(host, 'Recordings');
  const item = host.locator('.rec-item.rec-ready').first();
  await item.waitFor({ timeout: 10_000 });
  const link = item.getByRole('link', { name: /Download the recording of Sam/ });
  const href = await link.getAttribute('href');
  assert.ok(href, 'a download link');
  const size = await host.evaluate(async (url) => {
    const res = await fetch(url);
    return res.ok ? (await res.arrayBuffer()).byteLength : -res.status;
  }, href);
  assert.ok(size > 1000, `downloaded ${size} bytes`);
  await saveScreenshot(host, 'app-recordings');

  // The host removes Sam, after confirming.
  await openTab(host, 'People');
  await host.getByRole('button', { name: 'Remove Sam from the room' }).click();
  // The confirmation takes the focus: Enter confirms.
  await host.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Confirm removing Sam');
  await host.keyboard.press('Enter');
  await sam.locator('#error', { hasText: 'Removed from the room' }).waitFor({ timeout: 10_000 });
  assert.ok(await sam.locator('#call').isHidden(), 'Sam is out of the call');
  await person(host, 'Sam').waitFor({ state: 'detached', timeout: 5000 });
  await saveScreenshot(sam, 'app-removed');

  // The host locks the room: a newcomer is refused and told so; unlocked, they get in.
  await host.getByRole('button', { name: 'Lock room' }).click();
  await host.getByRole('button', { name: 'Unlock room' }).waitFor({ timeout: 5000 });
  assert.is(b.srv.app.rooms.getRoom(room)?.settings.locked, true);
  const lee = await b.open({ id: 'lee', name: 'Lee', role: 'viewer', room });
  await lee.locator('#error', { hasText: 'locked' }).waitFor({ timeout: 10_000 });
  assert.ok(await lee.locator('#call').isHidden());
  await host.getByRole('button', { name: 'Unlock room' }).click();
  await host.getByRole('button', { name: 'Lock room' }).waitFor({ timeout: 5000 });
  assert.is(b.srv.app.rooms.getRoom(room)?.settings.locked, false);
  await lee.close();

  for (const page of [host, sam, vic]) await page.close();
  assert.equal(b.errors, []);
});

test('lobby: the host turns the waiting room on, admits one guest and declines another', async ({ b }) => {
  const room = 'lobby-room';
  const host = await b.open({ id: 'hugo', name: 'Hugo', role: 'host', room });
  await inCall(host);
  await openTab(host, 'Lobby');
  await host.getByRole('checkbox', { name: /Waiting room/ }).check();
  await eventually(() => b.srv.app.rooms.getRoom(room)?.settings.lobby === true, 5000, 'the waiting room on');

  // A guest (on a phone) waits on the waiting screen.
  const gus = await b.open({ id: 'gus', name: 'Gus', role: 'speaker', room }, { width: 390, height: 844 });
  const waiting = gus.getByRole('dialog', { name: 'Waiting to be let in' });
  await waiting.waitFor({ timeout: 10_000 });
  assert.match(await waiting.innerText(), /Waiting for a moderator to let you in/);
  assert.ok(await waiting.getByRole('button', { name: 'Leave' }).isVisible());
  await saveScreenshot(gus, 'app-lobby-waiting');

  // The host sees Gus waiting (banner, count, list) and admits him: Gus is in the call.
  await host.locator('#lobby-status', { hasText: 'Gus is waiting' }).waitFor({ timeout: 5000 });
  await host.getByRole('tab', { name: /Lobby, 1 waiting/ }).waitFor({ timeout: 5000 });
  await saveScreenshot(host, 'app-lobby-host');
  await host.getByRole('button', { name: 'Admit Gus' }).click();
  await inCall(gus);
  assert.is(await gus.getByRole('dialog').count(), 0, 'the waiting screen is gone');
  await openTab(host, 'People');
  await person(host, 'Gus').waitFor({ timeout: 5000 });
  await host.locator('#lobby-status').waitFor({ state: 'hidden', timeout: 5000 });
  // Mute all: Gus's own list shows his mic off (the host's stays on).
  await openTab(gus, 'People');
  await person(gus, 'Gus (you)').getByText('mic on').waitFor({ timeout: 10_000 });
  await host.getByRole('button', { name: 'Mute everyone’s microphone' }).click();
  await person(gus, 'Gus (you)').getByText('mic off').waitFor({ timeout: 5000 });
  await person(gus, 'Hugo').getByText('mic on').waitFor({ timeout: 5000 });
  await saveScreenshot(gus, 'app-people-phone');

  // Another guest is declined: told so, not in the call.
  const dee = await b.open({ id: 'dee', name: 'Dee', role: 'viewer', room });
  await dee.getByRole('dialog', { name: 'Waiting to be let in' }).waitFor({ timeout: 10_000 });
  await openTab(host, 'Lobby');
  await host.getByRole('button', { name: 'Deny Dee' }).click();
  await dee.locator('#error', { hasText: 'declined your request to join' }).waitFor({ timeout: 5000 });
  assert.ok(await dee.locator('#call').isHidden());
  assert.is(await dee.getByRole('dialog').count(), 0);

  // A third gives up waiting with Leave: the host's lobby empties.
  const lou = await b.open({ id: 'lou', name: 'Lou', role: 'viewer', room });
  await lou.getByRole('dialog', { name: 'Waiting to be let in' }).waitFor({ timeout: 10_000 });
  await host.getByRole('button', { name: 'Admit Lou' }).waitFor({ timeout: 5000 });
  await lou.getByRole('button', { name: 'Leave' }).click();
  await host.getByRole('button', { name: 'Admit Lou' }).waitFor({ state: 'detached', timeout: 5000 });
  assert.is(b.srv.app.rooms.getRoom(room)?.lobby.size, 0);

  for (const page of [host, gus, dee, lou]) await page.close();
  assert.equal(b.errors, []);
});

test.run();
