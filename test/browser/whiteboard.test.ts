// The demo's whiteboard in real headless Chromium: the host draws a stroke
// with the mouse; the speaker's board shows it where it was drawn (its canvas
// has the stroke's pixels there); a viewer who joins later finds it on the
// board (from the join's room state), can watch but not draw; the host clears
// the board for everyone.
// Run inside a private network namespace (npm test does): WebRTC must stay on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { saveScreenshot } from '../support/chromium.js';
import { demoBrowser, inCall, openTab, type DemoBrowser } from './demoPages.js';

const test = suite<{ b: DemoBrowser }>('demo: whiteboard', {} as { b: DemoBrowser });

test.before(async (ctx) => {
  ctx.b = await demoBrowser();
});
test.after(async (ctx) => ctx.b?.close());

/** Painted pixels of the board in a box around (x, y), both 0..1 of its size. */
function inked(page: Page, x: number, y: number): Promise<number> {
  return page.evaluate(
    ([nx, ny]) => {
      const canvas = document.querySelector<HTMLCanvasElement>('.wb-canvas');
      const g = canvas?.getContext('2d');
      if (!canvas || !g || canvas.width === 0) return 0;
      const r = Math.max(2, Math.round(canvas.width * 0.01));
      const data = g.getImageData(Math.round(nx * canvas.width) - r, Math.round(ny * canvas.height) - r, 2 * r, 2 * r).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    },
    [x, y],
  );
}

async function waitInked(page: Page, x: number, y: number): Promise<void> {
  await page.waitForFunction(
    ([nx, ny]) => {
      const canvas = document.querySelector<HTMLCanvasElement>('.wb-canvas');
      const g = canvas?.getContext('2d');
      if (!canvas || !g || canvas.width === 0) return false;
      const d = g.getImageData(Math.round(nx * canvas.width), Math.round(ny * canvas.height), 1, 1).data;
      return d[3] > 0;
    },
    [x, y],
    { timeout: 10_000 },
  );
}

test('the host draws; the speaker sees it live, a late viewer finds it; the host clears it', async ({ b }) => {
  const room = 'board';
  const host = await b.open({ id: 'hana', name: 'Hana', role: 'host', room });
  await inCall(host);
  const sam = await b.open({ id: 'sam', name: 'Sam', role: 'speaker', room });
  await inCall(sam);
  await openTab(host, 'Whiteboard');
  await openTab(sam, 'Whiteboard');
  assert.ok(await host.getByRole('button', { name: 'Clear the whiteboard' }).isVisible(), 'the host may clear');
  assert.ok(await sam.getByRole('radiogroup', { name: 'Colour' }).isVisible(), 'a speaker draws');
  assert.ok(await sam.getByRole('button', { name: 'Clear the whiteboard' }).isHidden(), 'a speaker may not clear');
  assert.is(await inked(sam, 0.5, 0.5), 0, 'an empty board');

  // The host picks red, thick, and draws a line across the middle with the mouse.
  await host.getByRole('radio', { name: 'Red' }).click();
  await host.getByRole('combobox', { name: 'Width' }).selectOption({ label: 'Thick' });
  const box = await host.locator('.wb-canvas').boundingBox();
  assert.ok(box, 'the board is on screen');
  const point = (x: number, y: number) => [box.x + x * box.width, box.y + y * box.height] as const;
  await host.mouse.move(...point(0.2, 0.5));
  await host.mouse.down();
  for (let i = 1; i <= 12; i++) await host.mouse.move(...point(0.2 + (0.6 * i) / 12, 0.5 - 0.2 * Math.sin((Math.PI * i) / 12)));
  await host.mouse.up();
  assert.ok((await inked(host, 0.2, 0.5)) > 0, 'drawn on the host’s own board');

  // Sam's board shows the stroke where it was drawn, in red; elsewhere stays blank.
  await waitInked(sam, 0.8, 0.5);
  assert.ok((await inked(sam, 0.2, 0.5)) > 0);
  assert.ok((await inked(sam, 0.5, 0.3)) > 0, 'the middle of the arc');
  assert.is(await inked(sam, 0.5, 0.85), 0, 'nothing below the line');
  const red = await sam.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('.wb-canvas')!;
    return [...canvas.getContext('2d')!.getImageData(Math.round(0.2 * canvas.width), Math.round(0.5 * canvas.height), 1, 1).data];
  });
  assert.ok(red[0] > 200 && red[1] < 120 && red[2] < 120, `red ink, got ${red.join(',')}`);
  // Sam draws too, in green: the host receives it.
  await sam.getByRole('radio', { name: 'Green' }).click();
  const samBox = (await sam.locator('.wb-canvas').boundingBox())!;
  await sam.mouse.move(samBox.x + 0.35 * samBox.width, samBox.y + 0.8 * samBox.height);
  await sam.mouse.down();
  for (let i = 1; i <= 6; i++) await sam.mouse.move(samBox.x + (0.35 + 0.05 * i) * samBox.width, samBox.y + 0.8 * samBox.height);
  await sam.mouse.up();
  await waitInked(host, 0.5, 0.8);
  const green = await host.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('.wb-canvas')!;
    return [...canvas.getContext('2d')!.getImageData(Math.round(0.5 * canvas.width), Math.round(0.8 * canvas.height), 1, 1).data];
  });
  assert.ok(green[1] > 150 && green[0] < 120, `green ink, got ${green.join(',')}`);

  // A viewer joining later finds both strokes on the board, and gets no drawing tools.
  const vic = await b.open({ id: 'vic', name: 'Vic', role: 'viewer', room });
  await inCall(vic);
  await openTab(vic, 'Whiteboard');
  await waitInked(vic, 0.8, 0.5);
  await waitInked(vic, 0.5, 0.8);
  assert.ok(await vic.getByRole('toolbar', { name: 'Drawing tools' }).isHidden(), 'a viewer does not draw');
  const vicBox = (await vic.locator('.wb-canvas').boundingBox())!;
  await vic.mouse.move(vicBox.x + 0.1 * vicBox.width, vicBox.y + 0.1 * vicBox.height);
  await vic.mouse.down();
  await vic.mouse.move(vicBox.x + 0.3 * vicBox.width, vicBox.y + 0.2 * vicBox.height);
  await vic.mouse.up();
  assert.is(await inked(vic, 0.1, 0.1), 0, 'the viewer’s pointer draws nothing');
  assert.is(b.srv.app.rooms.getRoom(room)?.state().whiteboard?.length, 2, 'the room keeps two strokes');
  await saveScreenshot(host, 'app-whiteboard');

  // The host clears the board: blank everywhere.
  await host.getByRole('button', { name: 'Clear the whiteboard' }).click();
  for (const page of [host, sam, vic]) {
    await page.waitForFunction(
      () => {
        const canvas = document.querySelector<HTMLCanvasElement>('.wb-canvas')!;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return false;
        return true;
      },
      undefined,
      { timeout: 5000 },
    );
  }
  assert.is(b.srv.app.rooms.getRoom(room)?.state().whiteboard?.length, 0);
  for (const page of [host, sam, vic]) await page.close();
  assert.equal(b.errors, []);
});

test.run();
