// Who may fetch a stream's playlist and segments. In `signed` mode (the
// default) every URL carries ?token=, an HMAC-SHA256 over room, stream,
// viewer and expiry with LIVE_URL_SECRET: the app (REST) or a watcher (WS)
// gets one, and the server puts it on every segment URI of the playlist it
// serves. In `public` mode anyone who knows the room name may play.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { SEGMENT_FILE } from '../../../recording/live/hlsPipeline.js';

/** A name a stream's folder may serve: its playlist or one of its segments. */
export function isStreamFile(file: string): boolean {
  return file === 'index.m3u8' || SEGMENT_FILE.test(file);
}

export interface HlsGrant {
  room: string;
  streamId: string;
  viewer: string;
  /** Unix seconds. */
  expiresAt: number;
}

export class HlsAccess {
  constructor(
    readonly mode: 'signed' | 'public',
    private readonly secret: string,
    readonly ttlSeconds: number,
  ) {}

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }

  sign(room: string, streamId: string, viewer: string, ttlSeconds = this.ttlSeconds): { token: string; expiresAt: number } {
    const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
    const payload = Buffer.from(JSON.stringify({ r: room, s: streamId, v: viewer, e: expiresAt })).toString('base64url');
    return { token: `${payload}.${this.mac(payload)}`, expiresAt };
  }

  /** The grant a token carries, or null when it is forged, expired or for another room. */
  verify(token: string, room: string): HlsGrant | null {
    const dot = token.indexOf('.');
    if (dot <= 0 || token.length > 2048) return null;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.mac(payload));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      const p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { r: string; s: string; v: string; e: number };
      if (p.r !== room || typeof p.e !== 'number' || p.e < Date.now() / 1000) return null;
      return { room: p.r, streamId: String(p.s), viewer: String(p.v), expiresAt: p.e };
    } catch {
      return null;
    }
  }
}
