// The SDK as a package (npm run build:sdk -> dist/sdk/): the files are there
// (a minified ES module with its source map, index.d.ts, package.json naming
// @switchboard/sdk at the root version), a small TypeScript app that imports
// the package by name type-checks against its declarations (and a wrong call
// fails to), and docs/sdk.md's opening example, run as written in two
// Chromium pages against a real server, shows each page the other's video.
// Run inside a private network namespace (npm test does): WebRTC must stay on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/chromium.js';
import { startServer, type TestServer } from '../support/server.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SDK = path.join(ROOT, 'dist/sdk');
const CONSUMER = path.join(ROOT, 'dist/test-artifacts/sdk-consumer');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Ctx {
  srv: TestServer;
  profile: string;
  context: BrowserContext;
  errors: string[];
}

const test = suite<Ctx>('the SDK package', {} as Ctx);

test.before(() => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium (scripts/setup.sh)`);
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-sdk.mjs')], { cwd: ROOT, stdio: 'pipe' });
});

test.after(async (ctx) => {
  await ctx.context?.close().catch(() => {});
  await ctx.srv?.stop().catch(() => {});
  if (ctx.profile) rmSync(ctx.profile, { recursive: true, force: true });
});

test('npm run build:sdk makes a minified ES module, its source map, the declarations and a package.json', () => {
  const manifest = JSON.parse(readFileSync(path.join(SDK, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.is(manifest['name'], '@switchboard/sdk');
  assert.is(manifest['version'], VERSION);
  assert.is(manifest['type'], 'module');
  assert.is(manifest['types'], './index.d.ts');
  assert.equal((manifest['exports'] as Record<string, Record<string, string>>)['.'], {
    types: './index.d.ts',
    import: './switchboard.js',
    default: './switchboard.js',
  });
  const js = readFileSync(path.join(SDK, 'switchboard.js'), 'utf8');
  assert.match(js, /\/\/# sourceMappingURL=switchboard\.js\.map\s*$/);
  assert.ok(js.split('\n').length < 50, 'minified');
  assert.ok(js.length < 400_000, `switchboard.js is ${js.length} bytes`);
  assert.ok(js.includes(JSON.stringify(VERSION)), 'SDK_VERSION is the package version');
  const map = JSON.parse(readFileSync(path.join(SDK, 'switchboard.js.map'), 'utf8')) as { sources: string[] };
  assert.ok(
    map.sources.some((s) => s.endsWith('clients/browser/sdk/client.ts')),
    'the map leads back to the TypeScript',
  );
  const index = readFileSync(path.join(SDK, 'index.d.ts'), 'utf8');
  assert.match(index, /export \* from '\.\/types\/clients\/browser\/sdk\/index\.js'/);
  assert.ok(existsSync(path.join(SDK, 'types/clients/browser/sdk/client.d.ts')));
  assert.ok(existsSync(path.join(SDK, 'types/signaling/protocol/protocol.d.ts')), 'the wire types the SDK speaks in');
});

test('a TypeScript app imports @switchboard/sdk by name: its types resolve, a wrong call does not compile', () => {
  rmSync(CONSUMER, { recursive: true, force: true });
  mkdirSync(path.join(CONSUMER, 'node_modules/@switchboard'), { recursive: true });
  symlinkSync(SDK, path.join(CONSUMER, 'node_modules/@switchboard/sdk'), 'dir'); // as npm install ./dist/sdk would link it
  writeFileSync(
    path.join(CONSUMER, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        lib: ['ES2023', 'DOM', 'DOM.Iterable'],
        types: [],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: ['app.ts'],
    }),
  );
  const app = `
import { SDK_VERSION, SwitchboardClient, LIVE_REACTIONS, type LiveWatch, type RemoteTrack, type Role } from '@switchboard/sdk';

const version: string = SDK_VERSION;
const client = new SwitchboardClient({ simulcast: false, videoCodec: 'VP9' });
client.on('track-added', (t: RemoteTrack) => console.log(t.participantId, t.kind, t.track.id, version));
client.on('live-viewers', ({ current, peak }) => console.log(current + peak));
const role: Role = 'viewer';

export async function run(): Promise<LiveWatch> {
  await client.connect('wss://calls.example.com/ws', () => 'token');
  const joined = await client.join('standup', { displayName: 'Ann' });
  console.log(joined.room_state.participants.length, role);
  await client.reactLive(LIVE_REACTIONS[0]);
  // @ts-expect-error not a reaction: the package's types are real, not any
  await client.reactLive('boo');
  return client.watchLive('standup');
}
`;
  writeFileSync(path.join(CONSUMER, 'app.ts'), app);
  const ok = spawnSync(process.execPath, [TSC, '-p', CONSUMER], { cwd: CONSUMER, encoding: 'utf8' });
  assert.is(ok.status, 0, `tsc: ${ok.stdout}${ok.stderr}`);

  // The same app with a type error fails to compile, naming it.
  writeFileSync(path.join(CONSUMER, 'app.ts'), `${app}\nexport const n: number = SDK_VERSION;\n`);
  const bad = spawnSync(process.execPath, [TSC, '-p', CONSUMER], { cwd: CONSUMER, encoding: 'utf8' });
  assert.is.not(bad.status, 0);
  assert.match(bad.stdout, /Type 'string' is not assignable to type 'number'/);
});

/** The first ```html block of docs/sdk.md: the opening example. */
function docExample(): string {
  const doc = readFileSync(path.join(ROOT, 'docs/sdk.md'), 'utf8');
  const match = /```html\n([\s\S]*?)```/.exec(doc);
  if (!match) throw new Error('docs/sdk.md has no html example');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sdk example</title></head><body>\n${match[1]}</body></html>`;
}

async function openExample(ctx: Ctx, name: string): Promise<Page> {
  const page = await ctx.context.newPage();
  page.on('pageerror', (err) => ctx.errors.push(`${name}: ${String(err)}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') ctx.errors.push(`${name}: console: ${msg.text()}`);
  });
  // The example page and the package, served from the server's own origin (as an app would host them).
  await page.route(`${ctx.srv.url}/sdk/**`, (route) => {
    const file = new URL(route.request().url()).pathname.slice('/sdk/'.length);
    if (file === 'index.html') return route.fulfill({ contentType: 'text/html; charset=utf-8', body: docExample() });
    if (file.includes('/') || file.startsWith('.')) return route.fulfill({ status: 404, body: 'no' });
    return route.fulfill({ path: path.join(SDK, file) });
  });
  await page.goto(`${ctx.srv.url}/sdk/index.html`);
  return page;
}

/** How many <video> elements of the page decode a picture. */
function videosPlaying(page: Page): Promise<number> {
  return page.$$eval('#videos video', (els) => els.filter((v) => (v as HTMLVideoElement).videoWidth > 0).length);
}

test("docs/sdk.md's opening example, run as written in two pages, shows each the other's video", async (ctx) => {
  ctx.errors = [];
  ctx.srv = await startServer({ sfuWorkers: 1, devKeys: true });
  ctx.profile = mkdtempSync(path.join(tmpdir(), 'switchboard-chromium-'));
  ctx.context = await chromium.launchPersistentContext(ctx.profile, {
    executablePath: CHROMIUM,
    headless: true,
    // The example page comes from the test's router, not from an address: Chromium's Local Network
    // Access would take it for a public page and refuse its WebSocket to the loopback server.
    args: [...CHROMIUM_FLAGS, '--disable-features=LocalNetworkAccessChecks'],
    viewport: { width: 800, height: 600 },
  });
  const first = await openExample(ctx, 'first');
  const second = await openExample(ctx, 'second');
  for (const page of [first, second]) {
    await page
      .waitForFunction(
        () => Array.from(document.querySelectorAll('#videos video')).some((v) => (v as HTMLVideoElement).videoWidth > 0),
        undefined,
        {
          timeout: 20_000,
          polling: 200,
        },
      )
      .catch(async (err: Error) => {
        const html = await page.content().catch(() => 'page gone');
        throw new Error(`${err.message}; page errors: ${JSON.stringify(ctx.errors)}; page: ${html.slice(-600)}`, { cause: err });
      });
    assert.is(await videosPlaying(page), 1, 'the other page’s camera');
    assert.is(await page.$$eval('#videos audio', (els) => els.length), 1, 'the other page’s microphone');
  }
  // Both are in the room, as two participants.
  const room = ctx.srv.app.rooms.getRoom('standup');
  assert.ok(room, 'the room exists');
  const version = await first.evaluate(async (url) => ((await import(url)) as { SDK_VERSION: string }).SDK_VERSION, '/sdk/switchboard.js');
  assert.is(version, VERSION);
  assert.equal(ctx.errors, []);
});

test.run();
