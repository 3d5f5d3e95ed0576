// Serves the browser demo built by clients/browser/build.mjs (dist/browser):
// GET / is index.html, GET /app/<file> any other file of the folder, and
// GET /r/<room> index.html too (a room's link: the demo reads the room from
// location, and ?token= or #token= to join at once), and GET /watch/<room>
// watch.html (the room's live stream: player, chat, reactions). Nothing else is
// touched: every other request goes to the fallback (the REST API).
// Only plain file names inside the folder are served: no dot segments, no
// dotfiles, no symlinks out of it, no directory listings.

import { createReadStream, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTarget } from './requestTarget.js';

export const STATIC_PREFIX = '/app/';
/** A room's link: /r/<room> is the demo with that room filled in. */
export const ROOM_LINK_PREFIX = '/r/';
const ROOM_LINK = /^\/r\/[^/]+\/?$/;
/** A stream's link: /watch/<room> is the watch page of that room's live stream. */
export const WATCH_LINK_PREFIX = '/watch/';
const WATCH_LINK = /^\/watch\/[^/]+\/?$/;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** dist/browser, next to dist/server where this file runs from. */
export function defaultStaticRoot(): string {
  return fileURLToPath(new URL('../../../browser/', import.meta.url));
}

/**
 * The file a URL path names inside `root`, or null when it names nothing
 * servable. Pure path logic; the caller still checks the file on disk.
 */
export function resolveStaticPath(root: string, urlPath: string): string | null {
  let relative: string;
  if (urlPath === '/' || urlPath === '/app' || urlPath === STATIC_PREFIX || ROOM_LINK.test(urlPath)) relative = 'index.html';
  else if (WATCH_LINK.test(urlPath)) relative = 'watch.html';
  else if (urlPath.startsWith(STATIC_PREFIX)) relative = urlPath.slice(STATIC_PREFIX.length);
  else return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return null; // malformed %-escape
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/');
  // No empty, '.', '..' or hidden segments: /app/../x, /app//x, /app/.env are all refused.
  if (segments.some((s) => s === '' || s.startsWith('.'))) return null;
  const full = path.resolve(root, ...segments);
  const rel = path.relative(root, full);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return full;
}

export interface StaticOptions {
  /** The folder to serve (default dist/browser). */
  root?: string;
}

/**
 * A request listener that serves the demo and passes everything else to
 * `fallback`. Used by server/app.ts around the REST API's listener.
 */
export function withStatic(fallback: RequestListener, opts: StaticOptions = {}): RequestListener {
  const root = path.resolve(opts.root ?? defaultStaticRoot());
  let realRoot: Promise<string | null> | null = null;
  const rootReal = () =>
    (realRoot ??= realpath(root).catch(() => null)).then((r) => {
      if (r === null) realRoot = null; // not built yet: look again next time
      return r;
    });

  return (req, res) => {
    const method = req.method ?? 'GET';
    const urlPath = safePathname(req.url);
    if ((method !== 'GET' && method !== 'HEAD') || urlPath === null) return fallback(req, res);
    const file = resolveStaticPath(root, urlPath);
    if (file === null) {
      if (urlPath.startsWith(STATIC_PREFIX) || urlPath.startsWith(ROOM_LINK_PREFIX) || urlPath.startsWith(WATCH_LINK_PREFIX))
        return notFound(res);
      return fallback(req, res);
    }
    void serveFile(req, res, file, rootReal).catch(() => {
      if (!res.headersSent) notFound(res);
      else res.destroy();
    });
  };
}

function safePathname(url: string | undefined): string | null {
  return parseTarget(url)?.pathname ?? null;
}

async function serveFile(req: IncomingMessage, res: ServerResponse, file: string, rootReal: () => Promise<string | null>): Promise<void> {
  const base = await rootReal();
  if (base === null) return notFound(res, 'the browser demo is not built: run npm run build:browser');
  // A symlink inside the folder must not lead out of it.
  const real = await realpath(file).catch(() => null);
  if (real === null || (real !== base && !real.startsWith(base + path.sep))) return notFound(res);
  let info: Stats;
  try {
    info = await stat(real);
  } catch {
    return notFound(res);
  }
  if (!info.isFile()) return notFound(res);

  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const headers: Record<string, string> = {
    'content-type': CONTENT_TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream',
    'cache-control': 'no-cache', // revalidate: the build overwrites files in place
    etag,
    'x-content-type-options': 'nosniff',
  };
  if (path.extname(real) === '.html') {
    headers['content-security-policy'] =
      "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
  }
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers['content-length'] = String(info.size);
  res.writeHead(200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(real);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function notFound(res: ServerResponse, message = 'not found'): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(message + '\n');
}
