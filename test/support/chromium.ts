// Headless Chromium for the browser tests (Debian's, driven by playwright-core):
// where it is, the flags both suites launch it with, and the SDK bundle the
// server serves to its pages.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Fake camera and microphone, no prompts, no background traffic. */
export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--allow-loopback-in-peer-connection', // without it Chromium gathers no loopback candidates
  '--autoplay-policy=no-user-gesture-required',
];

/** Fails early without Chromium, then builds what the server serves from clients/browser now (esbuild, well under a second). */
export function prepareBrowserTests(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium (scripts/setup.sh)`);
  execFileSync(process.execPath, [path.join(ROOT, 'clients/browser/build.mjs')], { cwd: ROOT, stdio: 'pipe' });
}

/** Where browser tests keep their screenshots (dist/test-artifacts/screens/<name>.png; a test artifact, not committed). */
export const SCREENSHOT_DIR = path.join(ROOT, 'dist/test-artifacts/screens');

/** Saves what the page shows as dist/test-artifacts/screens/<name>.png. */
export async function saveScreenshot(
  page: { screenshot(opts: { path: string; fullPage?: boolean }): Promise<unknown> },
  name: string,
): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
