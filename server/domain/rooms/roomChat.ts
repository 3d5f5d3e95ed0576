// The in-call chat: everyone in the room writes (rate-limited per user),
// authors delete their own messages and hosts and moderators anyone's, the
// app's backend reads and moderates over REST. Messages belong to the room's
// call: the room keeps the call's latest CHAT_HISTORY in memory for `joined`,
// the rows stay after the call ends. Like every room action: under the room's
// lock, check -> persist (acknowledged only once committed) -> memory -> tell the room.

import { Counter, type Registry } from 'prom-client';
import { CHAT_HISTORY, type ChatMessage } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { RateLimiter } from '../../kernel/rateLimiter.js';
import { storageFailure } from '../../storage/queryError.js';
import type { RoomChatStore } from '../../storage/roomChatStore.js';
import type { Participant } from './participant.js';
import { assertAllowed } from './permissions.js';
import type { Room } from './room.js';
import type { Actor } from './roomControl.js';
import type { RoomService } from './roomService.js';

/** Chat messages a user may send: CHAT_RATE_PER_SECOND sustained, bursts of CHAT_BURST (5 in 5 s, then one a second). */
export const CHAT_RATE_PER_SECOND = 1;
export const CHAT_BURST = 5;

/** A page of a call's chat for the app's backend (REST), oldest first. */
export interface ChatPage {
  call_id: string | null;
  messages: ChatMessage[];
  /** Pass as `before` for the page of older messages; null when there are none. */
  next_before: string | null;
}

export class RoomChat {
  private sentCounter: Counter | null = null;

  constructor(
    private readonly rooms: RoomService,
    private readonly store: RoomChatStore,
    private readonly log: Logger,
  ) {}

  private persist<T>(work: Promise<T>): Promise<T> {
    return work.catch((err: unknown) => {
      throw storageFailure(err, this.log, 'chat storage error');
    });
  }

  /** The open room the participant is in (not_in_room once it left). */
  private roomOf(p: Participant): Room {
    const room = this.rooms.getRoom(p.roomName);
    if (!room || p.gone || room.participants.get(p.id) !== p) throw new AppError('not_in_room', 'you are not in a room');
    return room;
  }

  private limit(room: Room, userId: string): void {
    let bucket = room.chatLimits.get(userId);
    if (!bucket) {
      bucket = new RateLimiter(CHAT_RATE_PER_SECOND, CHAT_BURST);
      room.chatLimits.set(userId, bucket);
    }
    if (!bucket.take()) {
      throw new AppError('rate_limited', `too many chat messages; at most ${CHAT_BURST} at once, then ${CHAT_RATE_PER_SECOND} a second`);
    }
  }

  /** A message of the room's current call (memory first, then its row); null when there is none. */
  private async find(room: Room, messageId: string): Promise<ChatMessage | null> {
    const kept = room.chat.find((m) => m.message_id === messageId);
    if (kept) return kept;
    const row = await this.persist(this.store.get(room.name, messageId));
    return row && row.call_id === room.callId ? row : null;
  }

  /** Sends a message to everyone in the room (the sender too); resolves with it once stored. */
  send(p: Participant, text: string, replyTo?: string): Promise<ChatMessage> {
    return this.rooms.roomLocks.run(p.roomName, async () => {
      const room = this.roomOf(p);
      assertAllowed(p.identity.role, 'chat', room.settings.type);
      const clean = text.trim();
      if (!clean) throw new AppError('invalid_payload', 'text must not be blank', 'text');
      this.limit(room, p.identity.userId); // before any read: a flood costs the database nothing
      if (replyTo !== undefined && !(await this.find(room, replyTo))) {
        throw new AppError('not_found', `no message ${replyTo} in this call`, 'reply_to');
      }
      const message = await this.persist(
        this.store.add({
          room: room.name,
          callId: room.callId,
          participantId: p.id,
          userId: p.identity.userId,
          displayName: p.identity.displayName,
          text: clean,
          replyTo: replyTo ?? null,
        }),
      );
      this.sentCounter?.inc();
      room.chat.push(message);
      if (room.chat.length > CHAT_HISTORY) room.chat.shift();
      room.broadcast({ type: 'chat-message', payload: { message } });
      return message;
    });
  }

  /**
   * Deletes a message for everyone: its author (the same user), a host or a
   * moderator may, in the current call; the app's backend (REST) any message
   * of the room, of any call.
   */
  delete(actor: Actor, roomName: string, messageId: string): Promise<void> {
    return this.rooms.roomLocks.run(roomName, async () => {
      const room = this.rooms.getRoom(roomName);
      let callId: string;
      if ('participant' in actor) {
        const p = actor.participant;
        const open = this.roomOf(p);
        const message = await this.find(open, messageId);
        if (!message) throw new AppError('not_found', `no message ${messageId} in this call`, 'message_id');
        if (message.user_id !== p.identity.userId) assertAllowed(p.identity.role, 'moderate-chat', open.settings.type);
        callId = open.callId;
      } else {
        const row = await this.persist(this.store.get(roomName, messageId));
        if (!row) throw new AppError('not_found', `no message ${messageId} in room ${roomName}`);
        callId = row.call_id;
      }
      const by = 'participant' in actor ? actor.participant : null;
      const done = await this.persist(this.store.delete(roomName, messageId, by?.identity.userId ?? null, new Date()));
      if (!done) throw new AppError('not_found', `no message ${messageId} in room ${roomName}`, 'message_id');
      if (!room || this.rooms.getRoom(roomName) !== room || room.callId !== callId) return; // not a message of a call running here
      const wasFull = room.chat.length >= CHAT_HISTORY;
      room.chat = room.chat.filter((m) => m.message_id !== messageId);
      // The memory keeps the latest CHAT_HISTORY: an older message moves up into the gap.
      if (wasFull) {
        room.chat = await this.store.list(room.callId, CHAT_HISTORY).catch((err: unknown) => {
          this.log.warn({ err, room: roomName }, 'could not reload the chat history after a deletion');
          return room.chat;
        });
      }
      room.broadcast({ type: 'chat-deleted', payload: { message_id: messageId, by: by?.id ?? null } });
    });
  }

  /**
   * A page of a call's chat for REST: the room's latest call unless `callId`
   * is given, the newest `limit` messages, or those before message `before`.
   */
  async history(roomName: string, opts: { callId?: string; before?: string; limit: number }): Promise<ChatPage> {
    let callId = opts.callId ?? null;
    if (callId !== null) {
      if (!(await this.persist(this.store.callOfRoom(roomName, callId))))
        throw new AppError('not_found', `no call ${callId} in room ${roomName}`);
    } else {
      callId = this.rooms.getRoom(roomName)?.callId ?? (await this.persist(this.rooms.ctl.control.latestCallId(roomName)));
      if (callId === null) {
        if (!(await this.persist(this.rooms.ctl.control.getRoom(roomName)))) throw new AppError('not_found', `no room ${roomName}`);
        return { call_id: null, messages: [], next_before: null };
      }
    }
    const messages = await this.persist(this.store.list(callId, opts.limit, opts.before ?? null));
    return { call_id: callId, messages, next_before: messages.length === opts.limit ? messages[0].message_id : null };
  }

  /** A counter of the messages sent (GET /metrics). */
  registerMetrics(registry: Registry): void {
    this.sentCounter = new Counter({
      name: 'switchboard_room_chat_messages_total',
      help: 'In-call chat messages sent',
      registers: [registry],
    });
  }
}
