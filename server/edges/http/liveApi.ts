// Live streaming over HTTP: the app's backend drives streams under
// /api/v1/rooms/:room/live (API key, host rights), and players fetch
// GET /live/:room/index.m3u8 and its segments (signed URL or public).

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import path from 'node:path';
import { LIVE_LAYOUTS, ROOM_NAME } from '../../../signaling/protocol/protocol.js';
import { integer, object, oneOf, optional, string } from '../../../signaling/protocol/schema.js';
import { AppError, httpStatusOf } from '../../kernel/errors.js';
import type { LiveService } from '../../domain/live/liveService.js';
import { isStreamFile } from '../../domain/live/hlsAccess.js';
import { requireApiKey, type ApiCredentials } from './apiAuth.js';
import type { Request, Router } from './router.js';
import { limitParam, parseBody, pathParam, roomParam } from './requestParams.js';
import { clientAddress } from './clientAddress.js';
import { decodePathPart, parseTarget, type RequestTarget } from './requestTarget.js';

const PREFIX = '/api/v1/rooms/:room/live';
const startRequest = object({ layout: optional(oneOf(LIVE_LAYOUTS)), participant_id: optional(string({ min: 1, max: 64 })) });
const urlRequest = object({
  viewer_id: string({ min: 1, max: 128, pattern: /^[A-Za-z0-9_.:@-]+$/, hint: 'may contain only letters, digits and _ . : @ -' }),
  ttl: optional(integer({ min: 60, max: 30 * 86400 })),
});
const showRequest = object({ participant_id: string({ min: 1, max: 64 }) });
const MESSAGE_ID = /^[0-9]{1,18}$/;

function messageId(req: Request): string {
  const id = pathParam(req, 'id');
  if (!MESSAGE_ID.test(id)) throw new AppError('not_found', `no message ${id.slice(0, 32)}`);
  return id;
}

export function createLiveApi(router: Router, deps: { live: LiveService; credentials: ApiCredentials }): void {
  const { live } = deps;
  const auth = (req: Request) => requireApiKey(req, deps.credentials);
  const api = { api: true } as const;

  router.add('POST', PREFIX, async (req) => {
    auth(req);
    const body = await parseBody(req, startRequest);
    const stream = await live.start(api, roomParam(req), {
      ...(body.layout ? { layout: body.layout } : {}),
      ...(body.participant_id ? { participantId: body.participant_id } : {}),
    });
    return { status: 201, body: { stream } };
  });

  router.add('GET', PREFIX, async (req) => {
    auth(req);
    const stream = await live.latest(roomParam(req));
    if (!stream) throw new AppError('not_found', `room ${req.params['room']} has never been live`);
    return { status: 200, body: { stream } };
  });

  router.add('POST', `${PREFIX}/stop`, async (req) => {
    auth(req);
    return { status: 200, body: { stream: await live.stop(api, roomParam(req)) } };
  });

  router.add('POST', `${PREFIX}/show`, async (req) => {
    auth(req);
    const body = await parseBody(req, showRequest);
    return { status: 200, body: { stream: await live.show(api, roomParam(req), body.participant_id) } };
  });

  router.add('GET', `${PREFIX}/streams`, async (req) => {
    auth(req);
    const limit = limitParam(req, 50);
    return { status: 200, body: { streams: await live.history(roomParam(req), limit) } };
  });

  // A playlist URL for one viewer (signed when LIVE_HLS_ACCESS=signed), for the app to hand out.
  router.add('POST', `${PREFIX}/urls`, async (req) => {
    auth(req);
    const body = await parseBody(req, urlRequest);
    const stream = live.current(roomParam(req));
    if (!stream) throw new AppError('not_found', `room ${req.params['room']} is not live`);
    const ttl = body.ttl ?? live.access.ttlSeconds;
    return {
      status: 201,
      body: {
        playlist_url: live.playlistUrl(stream, body.viewer_id, ttl),
        expires_at: Math.floor(Date.now() / 1000) + ttl,
        access: live.access.mode,
      },
    };
  });

  router.add('GET', `${PREFIX}/chat`, async (req) => {
    auth(req);
    const stream = live.current(roomParam(req));
    if (!stream) throw new AppError('not_found', `room ${req.params['room']} is not live`);
    return { status: 200, body: { stream_id: stream.id, messages: stream.history, pinned: stream.pinned } };
  });

  router.add('DELETE', `${PREFIX}/chat/:id`, async (req) => {
    auth(req);
    await live.deleteMessage(api, messageId(req), roomParam(req));
    return { status: 200, body: { ok: true } };
  });

  router.add('POST', `${PREFIX}/chat/:id/pin`, async (req) => {
    auth(req);
    return { status: 200, body: { pinned: await live.pin(api, messageId(req), roomParam(req)) } };
  });

  router.add('DELETE', `${PREFIX}/pin`, async (req) => {
    auth(req);
    await live.pin(api, null, roomParam(req));
    return { status: 200, body: { ok: true } };
  });
}

// ---- HLS files ---------------------------------------------------------------

export const LIVE_PREFIX = '/live/';
const VIEWER = /^[A-Za-z0-9_.:@-]{1,128}$/;

function fail(res: ServerResponse, code: Parameters<typeof httpStatusOf>[0], message: string): void {
  res.writeHead(httpStatusOf(code), { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error: { code, message } }));
}

/**
 * Serves GET /live/:room/index.m3u8 (composed from the stream's ffmpeg
 * parts) and the segments /live/:room/pN_NNNNN.ts from the stream's folder;
 * everything else goes to `fallback`. In signed mode the playlist's segment
 * URIs get the request's token appended, so a player needs only the one URL.
 * Each request counts its viewer as present.
 */
export function withLive(live: LiveService, fallback: RequestListener, trustProxyHops = 0): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = parseTarget(req.url);
    if (!url || !url.pathname.startsWith(LIVE_PREFIX)) return fallback(req, res); // a malformed target: the router answers 400
    void serve(live, req, res, url, trustProxyHops).catch(() => {
      if (!res.headersSent) fail(res, 'internal_error', 'internal error');
      else res.destroy();
    });
  };
}

async function serve(
  live: LiveService,
  req: IncomingMessage,
  res: ServerResponse,
  url: RequestTarget,
  trustProxyHops: number,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 'invalid_payload', `${req.method} not allowed here`);
  const parts = url.pathname.slice(LIVE_PREFIX.length).split('/');
  const room = decodePathPart(parts[0] ?? '') ?? ''; // a malformed escape names no room
  const file = parts[1] ?? '';
  if (parts.length !== 2 || !roomNameOk(room) || !isStreamFile(file)) {
    return fail(res, 'not_found', 'no such stream file');
  }
  const stream = live.servedStream(room);
  if (!stream) return fail(res, 'not_found', `room ${room} is not live`);

  let viewerKey: string;
  let suffix: string; // what the playlist's segment URLs carry on
  if (live.access.mode === 'signed') {
    const token = url.searchParams.get('token');
    if (!token) return fail(res, 'unauthenticated', 'this stream needs a signed URL (?token=)');
    const grant = live.access.verify(token, room);
    if (!grant) return fail(res, 'unauthorized', 'invalid or expired stream token');
    if (grant.streamId !== stream.id) return fail(res, 'not_found', 'that token is for another stream of this room');
    viewerKey = `u:${grant.viewer}`;
    suffix = `?token=${encodeURIComponent(token)}`;
  } else {
    const viewer = url.searchParams.get('viewer');
    viewerKey = viewer && VIEWER.test(viewer) ? `v:${viewer}` : `ip:${clientAddress(req, trustProxyHops) ?? 'unknown'}`;
    suffix = viewer ? `?viewer=${encodeURIComponent(viewer)}` : '';
  }
  if (stream.open) stream.viewers.playerSeen(viewerKey);

  if (file === 'index.m3u8') {
    const body = stream.pipeline ? await stream.pipeline.playlist((f) => `${f}${suffix}`) : null;
    if (body === null) return fail(res, 'not_found', 'the stream has no segment yet; retry in a few seconds');
    res.writeHead(200, {
      'content-type': 'application/vnd.apple.mpegurl',
      'cache-control': 'no-cache',
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const full = path.join(stream.dir, file);
  let size: number;
  try {
    size = (await stat(full)).size;
  } catch {
    return fail(res, 'not_found', 'no such segment (it may have left the live window)');
  }
  res.writeHead(200, { 'content-type': 'video/mp2t', 'cache-control': 'max-age=60', 'content-length': size });
  if (req.method === 'HEAD') return void res.end();
  const fileStream = createReadStream(full);
  fileStream.on('error', () => res.destroy());
  fileStream.pipe(res);
}

function roomNameOk(name: string): boolean {
  try {
    ROOM_NAME.parse(name, 'room');
    return true;
  } catch {
    return false;
  }
}
