// Pages of the demo app for the browser tests of its panels: one Chromium
// (fake devices) on a development server, pages that join a room through its
// link with a minted token, and what went wrong on any of them.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Role } from '../../signaling/protocol/protocol.js';
import { CHROMIUM, CHROMIUM_FLAGS, prepareBrowserTests } from '../support/chromium.js';
import { startServer, type TestServer, type TestServerOptions } from '../support/server.js';

export interface DemoBrowser {
  srv: TestServer;
  context: BrowserContext;
  /** Uncaught exceptions and console errors of every page. */
  errors: string[];
  open(user: { id: string; name: string; role: Role; room: string }, viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function demoBrowser(opts: TestServerOptions = {}): Promise<DemoBrowser> {
  prepareBrowserTests();
  const srv = await startServer({ sfuWorkers: 1, devKeys: true, ...opts });
  const profile = mkdtempSync(path.join(tmpdir(), 'switchboard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  const errors: string[] = [];
  return {
    srv,
    context,
    errors,
    async open(user, viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      page.on('pageerror', (err) => errors.push(`${user.name}: ${String(err)}`));
      page.on('console', (msg) => {
        // The join form asks POST /dev/token whether this server hands out tokens (an expected 400).
        if (msg.type() === 'error' && !msg.location().url.endsWith('/dev/token')) errors.push(`${user.name}: ${msg.text()}`);
      });
      const token = await srv.mint({ userId: user.id, name: user.name, role: user.role, room: user.room });
      await page.goto(`${srv.url}/r/${user.room}#token=${encodeURIComponent(token)}`);
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      await srv.stop().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Waits until the page shows the call (joined). */
export async function inCall(page: Page): Promise<void> {
  await page.waitForSelector('#call:not([hidden])', { timeout: 15_000 });
}

/** Opens a side-bar tab (unless it is open). */
export async function openTab(page: Page, name: string | RegExp): Promise<void> {
  const tab = page.getByRole('tab', { name });
  if ((await tab.getAttribute('aria-selected')) !== 'true') await tab.click();
}
