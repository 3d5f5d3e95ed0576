// The stream's chat (messages, deletion, pinning, the recent history) and
// reactions (rate-limited, tallied, flushed to the audience every interval).

import { Counter, type Registry } from 'prom-client';
import type { LiveChatMessage, LiveReaction } from '../../../signaling/protocol/protocol.js';
import { RateLimiter } from '../../kernel/rateLimiter.js';
import { AppError } from '../../kernel/errors.js';
import type { LiveActor, LiveContext } from './liveContext.js';
import type { LiveStream } from './liveStream.js';

export class LiveChat {
  private chatCounter: Counter | null = null;
  private reactionCounter: Counter | null = null;

  constructor(private readonly ctx: LiveContext) {}

  private limited(buckets: Map<string, RateLimiter>, userId: string, rate: number, burst: number, what: string): void {
    let bucket = buckets.get(userId);
    if (!bucket) {
      bucket = new RateLimiter(rate, burst);
      buckets.set(userId, bucket);
    }
    if (!bucket.take()) throw new AppError('rate_limited', `too many ${what}; at most ${rate} per second (burst ${burst})`);
  }

  async chat(actor: LiveActor, text: string): Promise<LiveChatMessage> {
    const roomName = this.ctx.roomOfActor(actor);
    this.ctx.allow(actor, 'chat');
    const user = this.ctx.personOf(actor);
    const clean = text.trim();
    if (!clean) throw new AppError('invalid_payload', 'text must not be blank', 'text');
    const stream = this.ctx.openStream(roomName);
    this.limited(stream.chatLimits, user.userId, this.ctx.config.chatRatePerSecond, this.ctx.config.chatBurst, 'chat messages');
    const message = await this.ctx.persist(this.ctx.store.addMessage(stream.id, user.userId, user.displayName, clean));
    if (!stream.open) return message; // ended while storing: the row stays, nobody is told
    this.chatCounter?.inc();
    stream.history.push(message);
    if (stream.history.length > this.ctx.config.chatHistory) stream.history.shift();
    this.ctx.broadcast(roomName, { type: 'live-chat-message', payload: { stream_id: stream.id, message } });
    return message;
  }

  /** Authors delete their own messages; hosts and moderators (and REST) anyone's. */
  deleteMessage(actor: LiveActor, messageId: string, roomName?: string): Promise<void> {
    const name = this.ctx.roomOfActor(actor, roomName);
    return this.ctx.locks.run(name, async () => {
      const stream = this.ctx.openStream(name);
      const message =
        stream.history.find((m) => m.message_id === messageId) ?? (await this.ctx.persist(this.ctx.store.getMessage(stream.id, messageId)));
      if (!message) throw new AppError('not_found', `no message ${messageId} in this stream`, 'message_id');
      const user = this.ctx.userOf(actor);
      if (!user || message.user_id !== user.userId) this.ctx.allow(actor, 'moderate-chat');
      if (!(await this.ctx.persist(this.ctx.store.deleteMessage(stream.id, messageId, user?.userId ?? null, new Date())))) {
        throw new AppError('not_found', `no message ${messageId} in this stream`, 'message_id');
      }
      stream.history = stream.history.filter((m) => m.message_id !== messageId);
      const by = user?.userId ?? null;
      this.ctx.broadcast(name, { type: 'live-chat-deleted', payload: { stream_id: stream.id, message_id: messageId, by } });
      if (stream.pinned?.message_id === messageId) {
        stream.pinned = null;
        this.ctx.broadcast(name, { type: 'live-chat-pinned', payload: { stream_id: stream.id, message: null, by } });
      }
    });
  }

  /** Pins a message (replacing the pinned one), or unpins with null. Hosts and moderators. */
  pin(actor: LiveActor, messageId: string | null, roomName?: string): Promise<LiveChatMessage | null> {
    const name = this.ctx.roomOfActor(actor, roomName);
    return this.ctx.locks.run(name, async () => {
      this.ctx.allow(actor, 'moderate-chat');
      const stream = this.ctx.openStream(name);
      let message: LiveChatMessage | null = null;
      if (messageId !== null) {
        message =
          stream.history.find((m) => m.message_id === messageId) ??
          (await this.ctx.persist(this.ctx.store.getMessage(stream.id, messageId)));
        if (!message) throw new AppError('not_found', `no message ${messageId} in this stream`, 'message_id');
      } else if (!stream.pinned) {
        return null;
      }
      await this.ctx.persist(this.ctx.store.setPinned(stream.id, messageId));
      stream.pinned = message;
      this.ctx.broadcast(name, {
        type: 'live-chat-pinned',
        payload: { stream_id: stream.id, message, by: this.ctx.userOf(actor)?.userId ?? null },
      });
      return message;
    });
  }

  react(actor: LiveActor, reaction: LiveReaction): void {
    const roomName = this.ctx.roomOfActor(actor);
    this.ctx.allow(actor, 'react');
    const stream = this.ctx.openStream(roomName);
    const user = this.ctx.personOf(actor);
    this.limited(stream.reactionLimits, user.userId, this.ctx.config.reactionRatePerSecond, this.ctx.config.reactionBurst, 'reactions');
    stream.reactions.add(reaction);
    this.reactionCounter?.inc();
  }

  /** The reaction counts since the last flush go out as one message. */
  flushReactions(stream: LiveStream): void {
    const counts = stream.reactions.take();
    if (!counts) return;
    this.ctx.broadcast(stream.row.room, {
      type: 'live-reactions',
      payload: { stream_id: stream.id, counts, totals: stream.reactions.totals, interval_ms: this.ctx.config.reactionIntervalMs },
    });
  }

  /** Counters of accepted chat messages and reactions (GET /metrics). */
  registerMetrics(registry: Registry): void {
    this.chatCounter = new Counter({
      name: 'switchboard_live_chat_messages_total',
      help: 'Stream chat messages accepted',
      registers: [registry],
    });
    this.reactionCounter = new Counter({
      name: 'switchboard_live_reactions_total',
      help: 'Stream reactions accepted',
      registers: [registry],
    });
  }
}
