// The in-call chat as rows (schema.sql, "In-call chat"): one row per message
// of a room's call; a deletion marks the row, and every read leaves it out.

import type { ChatMessage } from '../../signaling/protocol/protocol.js';
import type { Database } from './database.js';

interface ChatRow {
  id: string;
  participant_id: string;
  user_id: string;
  display_name: string;
  text: string;
  reply_to: string | null;
  sent_at: Date;
}

const COLUMNS = 'id::text AS id, participant_id, user_id, display_name, text, reply_to::text AS reply_to, sent_at';

function chatMessage(r: ChatRow): ChatMessage {
  return {
    message_id: String(r.id),
    participant_id: r.participant_id,
    user_id: r.user_id,
    display_name: r.display_name,
    text: r.text,
    reply_to: r.reply_to === null ? null : String(r.reply_to),
    sent_at: r.sent_at.toISOString(),
  };
}

export interface NewChatMessage {
  room: string;
  callId: string;
  participantId: string;
  userId: string;
  displayName: string;
  text: string;
  replyTo: string | null;
}

export class RoomChatStore {
  constructor(private readonly db: Database) {}

  /** Stores a message; resolves once the row is committed. */
  async add(m: NewChatMessage): Promise<ChatMessage> {
    const rows = await this.db.query<ChatRow>(
      `INSERT INTO room_chat_messages (room, call_id, participant_id, user_id, display_name, text, reply_to)
       VALUES ($1, $2, $3, $4, $5, $6, $7::bigint)
       RETURNING ${COLUMNS}`,
      [m.room, m.callId, m.participantId, m.userId, m.displayName, m.text, m.replyTo],
    );
    return chatMessage(rows[0]);
  }

  /**
   * The call's messages not deleted, oldest first: the latest `limit`, or the
   * latest `limit` before message `before`. (Ordered by the bigint column: the
   * output `id` is text, and "99" sorts after "100".)
   */
  async list(callId: string, limit: number, before: string | null = null): Promise<ChatMessage[]> {
    const rows = await this.db.query<ChatRow>(
      `SELECT ${COLUMNS} FROM room_chat_messages
       WHERE call_id = $1 AND deleted_at IS NULL AND ($3::bigint IS NULL OR id < $3::bigint)
       ORDER BY room_chat_messages.id DESC LIMIT $2`,
      [callId, limit, before],
    );
    return rows.reverse().map(chatMessage);
  }

  /** A message of the room that is not deleted (any call of the room), with its call. */
  async get(room: string, messageId: string): Promise<(ChatMessage & { call_id: string }) | null> {
    const rows = await this.db.query<ChatRow & { call_id: string }>(
      `SELECT ${COLUMNS}, call_id::text AS call_id FROM room_chat_messages WHERE room = $1 AND id = $2::bigint AND deleted_at IS NULL`,
      [room, messageId],
    );
    return rows[0] ? { ...chatMessage(rows[0]), call_id: rows[0].call_id } : null;
  }

  /** Marks a message deleted; false when it was not there (or deleted already). */
  async delete(room: string, messageId: string, by: string | null, at: Date): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE room_chat_messages SET deleted_at = $3, deleted_by = $4
       WHERE room = $1 AND id = $2::bigint AND deleted_at IS NULL RETURNING id`,
      [room, messageId, at, by],
    );
    return rows.length > 0;
  }

  /** True when the call is one of the room's. */
  async callOfRoom(room: string, callId: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM calls WHERE id = $1::uuid AND room = $2', [callId, room])).length > 0;
  }
}
