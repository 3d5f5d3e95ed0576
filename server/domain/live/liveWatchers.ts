// The stream's WebSocket watchers (watch/unwatch, each counted as a viewer),
// the signed playlist URL a viewer gets, and viewer counts going out.

import type { Identity } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { ParticipantSink } from '../rooms/participant.js';
import type { HlsAccess } from './hlsAccess.js';
import type { LiveContext, Watcher } from './liveContext.js';
import type { LiveStream } from './liveStream.js';

export class LiveWatchers {
  private readonly watcherOf = new Map<ParticipantSink, Watcher>();

  constructor(
    private readonly ctx: LiveContext,
    private readonly access: HlsAccess,
  ) {}

  /**
   * A connection watches a room's stream: it gets the stream's events, the
   * recent chat and the pinned message, and a playlist URL signed for it.
   * Watching needs no seat in the room (viewers are not participants).
   */
  watch(sink: ParticipantSink, identity: Identity, roomName: string, displayName?: string) {
    if (identity.room !== null && identity.room !== roomName) {
      throw new AppError('forbidden', `this token is only valid for room ${identity.room}`, 'room');
    }
    const room = this.ctx.rooms.getRoom(roomName);
    const bannedUntil = room?.bans.get(identity.user_id);
    if (bannedUntil !== undefined && bannedUntil > Date.now()) throw new AppError('banned', 'you were removed from this room');
    const previous = this.watcherOf.get(sink);
    if (previous && previous.room !== roomName) this.unwatch(sink);
    let watcher = this.watcherOf.get(sink);
    if (!watcher) {
      const set = this.ctx.watchers.get(roomName) ?? new Set<Watcher>();
      if (set.size >= this.ctx.config.maxWatchers)
        throw new AppError('room_full', `this stream has ${this.ctx.config.maxWatchers} watchers`);
      watcher = { sink, room: roomName, userId: identity.user_id, displayName: displayName ?? identity.name, tokenRole: identity.role };
      set.add(watcher);
      this.ctx.watchers.set(roomName, set);
      this.watcherOf.set(sink, watcher);
      this.ctx.streams.get(roomName)?.viewers.watcherJoined(`u:${watcher.userId}`);
    }
    const stream = this.ctx.streams.get(roomName) ?? null;
    return {
      stream: stream?.info() ?? null,
      playlist_url: stream ? this.playlistUrl(stream, identity.user_id) : null,
      chat: stream ? [...stream.history] : [],
      pinned: stream?.pinned ?? null,
      reactions: stream ? { ...stream.reactions.totals } : {},
    };
  }

  unwatch(sink: ParticipantSink): boolean {
    const watcher = this.watcherOf.get(sink);
    if (!watcher) return false;
    this.watcherOf.delete(sink);
    const set = this.ctx.watchers.get(watcher.room);
    set?.delete(watcher);
    if (set?.size === 0) this.ctx.watchers.delete(watcher.room);
    this.ctx.streams.get(watcher.room)?.viewers.watcherLeft(`u:${watcher.userId}`);
    return true;
  }

  watcher(sink: ParticipantSink): Watcher | null {
    return this.watcherOf.get(sink) ?? null;
  }

  /** A new stream counts the room's current watchers as its viewers. */
  countExisting(stream: LiveStream, roomName: string): void {
    for (const w of this.ctx.watchers.get(roomName) ?? []) stream.viewers.watcherJoined(`u:${w.userId}`);
  }

  /** WebSocket connections watching any stream of this node. */
  count(): number {
    return [...this.ctx.watchers.values()].reduce((n, set) => n + set.size, 0);
  }

  /** Forgets every watcher (server shutdown). */
  clear(): void {
    this.ctx.watchers.clear();
    this.watcherOf.clear();
  }

  /** Path of the playlist, signed for this viewer when access is signed (relative to the server's URL). */
  playlistUrl(stream: LiveStream, viewer: string, ttlSeconds?: number): string {
    const base = `/live/${encodeURIComponent(stream.row.room)}/index.m3u8`;
    if (this.access.mode === 'public') return `${base}?viewer=${encodeURIComponent(viewer)}`;
    return `${base}?token=${this.access.sign(stream.row.room, stream.id, viewer, ttlSeconds).token}`;
  }

  /** Viewer counts go out (and to the row) only when they changed. */
  flushViewers(stream: LiveStream): void {
    const current = stream.viewers.current();
    const next = { current, peak: stream.viewers.peak, total: stream.viewers.total };
    const last = stream.lastViewers;
    if (next.current === last.current && next.peak === last.peak && next.total === last.total) return;
    stream.lastViewers = next;
    stream.row.viewers_current = next.current;
    stream.row.viewers_peak = next.peak;
    stream.row.viewers_total = next.total;
    this.ctx.broadcast(stream.row.room, { type: 'live-viewers', payload: { stream_id: stream.id, ...next } });
    this.ctx.store
      .saveCounts(stream.id, next, stream.reactions.totals)
      .catch((err) => this.ctx.log.warn({ err, stream_id: stream.id }, 'could not store viewer counts'));
  }
}
