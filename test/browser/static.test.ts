// server/edges/http/static.ts: the demo at / and /app/, correct content types,
// nothing outside the folder, everything else left to the API.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveStaticPath, withStatic } from '../../server/edges/http/static.js';

interface Ctx {
  dir: string;
  root: string;
  server: Server;
  port: number;
}

const test = suite<Ctx>('static files', {} as Ctx);

test.before(async (ctx) => {
  ctx.dir = mkdtempSync(path.join(tmpdir(), 'switchboard-static-'));
  ctx.root = path.join(ctx.dir, 'browser');
  mkdirSync(path.join(ctx.root, 'sub'), { recursive: true });
  writeFileSync(path.join(ctx.root, 'index.html'), '<!doctype html><title>demo</title>');
  writeFileSync(path.join(ctx.root, 'watch.html'), '<!doctype html><title>watch</title>');
  writeFileSync(path.join(ctx.root, 'demo.js'), 'console.log(1);');
  writeFileSync(path.join(ctx.root, 'demo.css'), 'body{}');
  writeFileSync(path.join(ctx.root, 'demo.js.map'), '{}');
  writeFileSync(path.join(ctx.root, 'blob.bin'), 'x');
  writeFileSync(path.join(ctx.root, '.env'), 'SECRET=1');
  writeFileSync(path.join(ctx.root, 'sub', 'a b.txt'), 'spaced');
  writeFileSync(path.join(ctx.dir, 'secret.txt'), 'outside');
  symlinkSync(path.join(ctx.dir, 'secret.txt'), path.join(ctx.root, 'escape.txt'));
  const api = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ api: true, method: req.method, url: req.url }));
  };
  ctx.server = createServer(withStatic(api, { root: ctx.root }));
  await new Promise<void>((resolve) => ctx.server.listen(0, '127.0.0.1', resolve));
  ctx.port = (ctx.server.address() as AddressInfo).port;
});

test.after((ctx) => {
  ctx.server.close();
  rmSync(ctx.dir, { recursive: true, force: true });
});

/** Raw request: the path goes out exactly as written (no URL normalization). */
function get(ctx: Ctx, rawPath: string, opts: { method?: string; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; type: string; body: string; headers: Record<string, string | string[] | undefined> }>(
    (resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: ctx.port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers ?? {} },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body, headers: res.headers }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    },
  );
}

test('GET / is index.html; /app/ files with their content types', async (ctx) => {
  const index = await get(ctx, '/');
  assert.is(index.status, 200);
  assert.is(index.type, 'text/html; charset=utf-8');
  assert.match(index.body, /<title>demo<\/title>/);
  assert.match(String(index.headers['content-security-policy']), /default-src 'self'/);
  assert.is((await get(ctx, '/app/')).body, index.body);
  const js = await get(ctx, '/app/demo.js');
  assert.is(js.status, 200);
  assert.is(js.type, 'text/javascript; charset=utf-8');
  assert.is(js.body, 'console.log(1);');
  assert.is(js.headers['x-content-type-options'], 'nosniff');
  assert.is((await get(ctx, '/app/demo.css')).type, 'text/css; charset=utf-8');
  assert.is((await get(ctx, '/app/demo.js.map')).type, 'application/json; charset=utf-8');
  assert.is((await get(ctx, '/app/blob.bin')).type, 'application/octet-stream');
  assert.is((await get(ctx, '/app/sub/a%20b.txt')).body, 'spaced');
  assert.is((await get(ctx, '/app/demo.js?v=2')).status, 200);
});

test('GET /r/<room> is index.html (a room link); other /r/ paths are 404, never the API', async (ctx) => {
  const index = await get(ctx, '/');
  for (const p of ['/r/standup', '/r/standup/', '/r/team.a%40b?token=x', '/r/r1#token=x']) {
    const res = await get(ctx, p);
    assert.is(res.status, 200, p);
    assert.is(res.type, 'text/html; charset=utf-8', p);
    assert.is(res.body, index.body, p);
  }
  for (const p of ['/r/', '/r//x', '/r/a/b', '/r/../secret.txt', '/r/a/../../secret.txt']) {
    const res = await get(ctx, p);
    assert.is(res.status, 404, p);
    assert.not.match(res.body, /outside|api/, p);
  }
  assert.is(resolveStaticPath('/srv/demo', '/r/standup'), '/srv/demo/index.html');
  assert.is(resolveStaticPath('/srv/demo', '/r/a/b'), null);
});

test('GET /watch/<room> is watch.html (a stream link); other /watch/ paths are 404, never the API', async (ctx) => {
  for (const p of ['/watch/standup', '/watch/standup/', '/watch/team.a%40b?token=x', '/watch/r1#token=x']) {
    const res = await get(ctx, p);
    assert.is(res.status, 200, p);
    assert.is(res.type, 'text/html; charset=utf-8', p);
    assert.is(res.body, '<!doctype html><title>watch</title>', p);
    assert.match(String(res.headers['content-security-policy']), /default-src 'self'/, p);
  }
  for (const p of ['/watch/', '/watch//x', '/watch/a/b', '/watch/../secret.txt', '/watch/a/../../secret.txt']) {
    const res = await get(ctx, p);
    assert.is(res.status, 404, p);
    assert.not.match(res.body, /outside|api/, p);
  }
  assert.is((await get(ctx, '/watchers')).body.includes('"api":true'), true, '/watchers is not a watch link');
  assert.is(resolveStaticPath('/srv/demo', '/watch/standup'), '/srv/demo/watch.html');
  assert.is(resolveStaticPath('/srv/demo', '/watch/a/b'), null);
});

test('HEAD has the headers and no body; ETag revalidation answers 304', async (ctx) => {
  const head = await get(ctx, '/app/demo.js', { method: 'HEAD' });
  assert.is(head.status, 200);
  assert.is(head.body, '');
  assert.is(head.headers['content-length'], String('console.log(1);'.length));
  const etag = String(head.headers['etag']);
  assert.ok(etag.length > 4);
  const again = await get(ctx, '/app/demo.js', { headers: { 'if-none-match': etag } });
  assert.is(again.status, 304);
  assert.is(again.body, '');
});

test('nothing outside the folder: dot segments, encoded slashes, dotfiles, symlinks, directories', async (ctx) => {
  for (const p of [
    '/app/../secret.txt',
    '/app/%2e%2e/secret.txt',
    '/app/..%2fsecret.txt',
    '/app/%2E%2E%2Fsecret.txt',
    '/app/sub/../../secret.txt',
    '/app/..%5csecret.txt',
    '/app/.env',
    '/app//etc/passwd',
    '/app/escape.txt',
    '/app/sub',
    '/app/sub/',
    '/app/missing.js',
    '/app/%00',
    '/app/%E0%A4%A',
    '/app/demo.js%00.html',
  ]) {
    const res = await get(ctx, p);
    assert.is(res.status, 404, p);
    assert.not.match(res.body, /outside|SECRET|root:/, p);
  }
});

test('everything else goes to the fallback (the API)', async (ctx) => {
  for (const [method, p] of [
    ['GET', '/health'],
    ['POST', '/'],
    ['GET', '/apps'],
    ['PUT', '/app/demo.js'],
    ['GET', '/index.html'],
  ] as const) {
    const res = await get(ctx, p, { method });
    assert.is(res.status, 404, `${method} ${p}`);
    assert.equal(JSON.parse(res.body), { api: true, method, url: p });
  }
});

test('resolveStaticPath stays inside the root', () => {
  const root = '/srv/demo';
  assert.is(resolveStaticPath(root, '/'), '/srv/demo/index.html');
  assert.is(resolveStaticPath(root, '/app/x/y.js'), '/srv/demo/x/y.js');
  for (const p of [
    '/app/..',
    '/app/a/../../b',
    '/app/%2e%2e',
    '/app/a%2f..%2f..%2fb',
    '/other',
    '/app/.git/config',
    '/app/a\\b',
    '/app/x//y',
  ]) {
    assert.is(resolveStaticPath(root, p), null, p);
  }
});

test('a root that does not exist (demo not built): 404 with a hint, the API still answers', async () => {
  const server = createServer(
    withStatic(
      (_req, res) => {
        res.writeHead(200);
        res.end('api');
      },
      { root: path.join(tmpdir(), 'switchboard-no-such-dir-' + process.pid) },
    ),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const index = await fetch(`http://127.0.0.1:${port}/`);
    assert.is(index.status, 404);
    assert.match(await index.text(), /not built/);
    assert.is(await (await fetch(`http://127.0.0.1:${port}/health`)).text(), 'api');
  } finally {
    server.close();
  }
});

test.run();
