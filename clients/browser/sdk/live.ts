// Live streaming from the SDK: hosts and moderators take the room live (HLS),
// anyone authenticated watches a room's stream without joining it, and the
// whole audience (participants and watchers) chats and reacts. One method per
// protocol request (docs/protocol.md, Live streaming); the server checks
// roles (`forbidden`) and limits (`rate_limited`). The events come from the
// server unchanged: live-stream-updated, live-chat-message, live-chat-deleted,
// live-chat-pinned, live-reactions, live-viewers. The client inherits this
// class (through RoomControlRequests); it keeps only what a watch needs to
// survive a reconnect.

import type { LiveChatMessage, LiveReaction, LiveStreamInfo } from '../../../signaling/protocol/protocol.js';
import { Emitter } from './emitter.js';
import type { Signaling } from './signaling.js';
import type { LiveStartOptions, LiveWatch, SwitchboardEvents } from './types.js';

/**
 * The reactions a stream takes, in the protocol's order (a copy of the
 * catalog's LIVE_REACTIONS: importing the catalog's values would bundle its
 * validators; the type below fails to compile if the two differ).
 */
export const LIVE_REACTIONS = ['heart', 'like', 'fire', 'clap', 'laugh', 'wow', 'sad', 'angry'] as const satisfies readonly LiveReaction[];
type MissingReaction = Exclude<LiveReaction, (typeof LIVE_REACTIONS)[number]>;
const allReactions: [MissingReaction] extends [never] ? true : MissingReaction = true;
void allReactions;

/** The longest stream chat message (characters). */
export const LIVE_CHAT_MAX_CHARS = 500;

/** A stream players can load: preparing (the first segment is near) or live. */
export function isLiveActive(stream: LiveStreamInfo | null | undefined): boolean {
  return stream?.status === 'preparing' || stream?.status === 'live';
}

export abstract class LiveRequests extends Emitter<SwitchboardEvents> {
  abstract readonly signaling: Signaling;
  private watched: string | null = null;
  private rewatchHooked = false;

  /** The room this connection watches (live-watch), or null. */
  get watchingLive(): string | null {
    return this.watched;
  }

  // ---- hosts and moderators, in the room ----

  /** Takes the room live; resolves with the stream (status `preparing`, then `live-stream-updated` says `live`). */
  async startLive(opts: LiveStartOptions = {}): Promise<LiveStreamInfo> {
    const reply = await this.signaling.request('live-start', {
      ...(opts.layout ? { layout: opts.layout } : {}),
      ...(opts.participantId ? { participant_id: opts.participantId } : {}),
    });
    return reply.stream;
  }

  /** Ends the room's stream (players see the end of the playlist). */
  async stopLive(): Promise<LiveStreamInfo> {
    return (await this.signaling.request('live-stop', {})).stream;
  }

  /** Switches whom a speaker-layout stream shows. */
  async showOnLive(participantId: string): Promise<LiveStreamInfo> {
    return (await this.signaling.request('live-show', { participant_id: participantId })).stream;
  }

  // ---- watching (no seat in the room) ----

  /**
   * Watches a room's stream: this connection joins its audience (chat,
   * reactions, viewer counts) without joining the room. Answers also when the
   * room is not live (`stream: null`): `live-stream-updated` then says when
   * it goes live; call watchLive again for the playlist. After a reconnect
   * the SDK watches again by itself and emits `live-watching` (rewatched).
   */
  async watchLive(room: string): Promise<LiveWatch> {
    this.hookRewatch();
    const watch = await this.requestWatch(room, false);
    this.watched = room;
    return watch;
  }

  /** Leaves the audience of the watched stream. */
  async unwatchLive(): Promise<void> {
    if (this.watched === null) return;
    this.watched = null;
    await this.signaling.request('live-unwatch', {});
  }

  // ---- the audience: participants and watchers ----

  /** A stream chat message (1-500 characters); everyone in the audience gets `live-chat-message`, the sender too. */
  async sendLiveChat(text: string): Promise<LiveChatMessage> {
    return (await this.signaling.request('live-chat', { text })).message;
  }

  /** Deletes a chat message: one's own, or (hosts, moderators) anyone's. */
  async deleteLiveChat(messageId: string): Promise<void> {
    await this.signaling.request('live-chat-delete', { message_id: messageId });
  }

  /** Hosts, moderators: pins a message (replacing the pinned one). */
  async pinLiveChat(messageId: string): Promise<LiveChatMessage> {
    return (await this.signaling.request('live-chat-pin', { message_id: messageId })).message;
  }

  async unpinLiveChat(): Promise<void> {
    await this.signaling.request('live-chat-unpin', {});
  }

  /** A reaction: counted by the server and sent to everyone as `live-reactions` every 500 ms. */
  async reactLive(reaction: LiveReaction): Promise<void> {
    await this.signaling.request('live-react', { reaction });
  }

  private async requestWatch(room: string, rewatched: boolean): Promise<LiveWatch> {
    const reply = await this.signaling.request('live-watch', { room });
    const watch: LiveWatch = {
      room,
      stream: reply.stream,
      playlistUrl: reply.playlist_url ? new URL(reply.playlist_url, this.signaling.httpOrigin).toString() : null,
      chat: reply.chat,
      pinned: reply.pinned,
      reactions: reply.reactions,
      rewatched,
    };
    this.emit('live-watching', watch);
    return watch;
  }

  /** The server forgets a watch when the socket goes: say it again on every reconnect. */
  private hookRewatch(): void {
    if (this.rewatchHooked) return;
    this.rewatchHooked = true;
    this.signaling.on('reconnected', () => {
      const room = this.watched;
      if (room === null) return;
      this.requestWatch(room, true).catch((error: Error) => this.emit('media-error', { action: 'live-watch', error }));
    });
  }
}
