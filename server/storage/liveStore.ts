// Live streams and their chat as rows (schema.sql, "Live streaming").

import { randomUUID } from 'node:crypto';
import type { LiveChatMessage, LiveLayout, LiveReactionCounts, LiveStatus } from '../../signaling/protocol/protocol.js';
import type { Database } from './database.js';

export interface LiveStreamRow {
  id: string;
  room: string;
  call_id: string | null;
  node_id: string | null;
  status: LiveStatus;
  layout: LiveLayout;
  participant_id: string | null;
  started_by: string | null;
  created_at: Date;
  live_at: Date | null;
  ended_at: Date | null;
  end_reason: string | null;
  error: string | null;
  viewers_current: number;
  viewers_peak: number;
  viewers_total: number;
  reactions: LiveReactionCounts;
  pinned_message_id: string | null;
}

interface ChatRow {
  id: string;
  user_id: string;
  display_name: string;
  text: string;
  created_at: Date;
}

const STREAM_COLUMNS = `id, room, call_id, node_id, status, layout, participant_id, started_by, created_at, live_at, ended_at,
  end_reason, error, viewers_current, viewers_peak, viewers_total, reactions, pinned_message_id::text AS pinned_message_id`;

function chatMessage(r: ChatRow): LiveChatMessage {
  return { message_id: String(r.id), user_id: r.user_id, display_name: r.display_name, text: r.text, sent_at: r.created_at.toISOString() };
}

export class LiveStore {
  constructor(private readonly db: Database) {}

  /** A new stream in `preparing`; null when the room already has one that is not over. */
  async create(s: {
    room: string;
    callId: string | null;
    nodeId: string;
    layout: LiveLayout;
    participantId: string | null;
    startedBy: string | null;
  }): Promise<LiveStreamRow | null> {
    const rows = await this.db.query<LiveStreamRow>(
      `INSERT INTO live_streams (id, room, call_id, node_id, status, layout, participant_id, started_by)
       VALUES ($1, $2, $3, $4, 'preparing', $5, $6, $7)
       ON CONFLICT (room) WHERE status IN ('preparing', 'live') DO NOTHING
       RETURNING ${STREAM_COLUMNS}`,
      [randomUUID(), s.room, s.callId, s.nodeId, s.layout, s.participantId, s.startedBy],
    );
    return rows[0] ?? null;
  }

  async markLive(id: string, at: Date): Promise<void> {
    await this.db.query(`UPDATE live_streams SET status = 'live', live_at = $2 WHERE id = $1 AND status = 'preparing'`, [id, at]);
  }

  async finish(
    id: string,
    f: {
      status: 'ended' | 'failed';
      at: Date;
      reason: string;
      error: string | null;
      viewers: { current: number; peak: number; total: number };
      reactions: LiveReactionCounts;
    },
  ): Promise<void> {
    await this.db.query(
      `UPDATE live_streams SET status = $2, ended_at = $3, end_reason = $4, error = $5,
         viewers_current = $6, viewers_peak = $7, viewers_total = $8, reactions = $9
       WHERE id = $1 AND status IN ('preparing', 'live')`,
      [id, f.status, f.at, f.reason, f.error, f.viewers.current, f.viewers.peak, f.viewers.total, JSON.stringify(f.reactions)],
    );
  }

  async saveCounts(id: string, viewers: { current: number; peak: number; total: number }, reactions: LiveReactionCounts): Promise<void> {
    await this.db.query(
      `UPDATE live_streams SET viewers_current = $2, viewers_peak = $3, viewers_total = $4, reactions = $5 WHERE id = $1`,
      [id, viewers.current, viewers.peak, viewers.total, JSON.stringify(reactions)],
    );
  }

  async setParticipant(id: string, participantId: string | null): Promise<void> {
    await this.db.query(`UPDATE live_streams SET participant_id = $2 WHERE id = $1`, [id, participantId]);
  }

  async get(id: string): Promise<LiveStreamRow | null> {
    return (await this.db.query<LiveStreamRow>(`SELECT ${STREAM_COLUMNS} FROM live_streams WHERE id = $1`, [id]))[0] ?? null;
  }

  async list(room: string, limit: number): Promise<LiveStreamRow[]> {
    return this.db.query<LiveStreamRow>(
      `SELECT ${STREAM_COLUMNS} FROM live_streams WHERE room = $1 ORDER BY created_at DESC, id LIMIT $2`,
      [room, limit],
    );
  }

  /**
   * Streams left open by a run that is gone (a previous run of this node, all
   * of them with an embedded database: `server-restart`; a dead node:
   * `node-failure`) end now as failed; returns them for their webhooks.
   */
  async closeAbandoned(
    at: Date,
    nodeId: string | null,
    reason: 'server-restart' | 'node-failure' = 'server-restart',
  ): Promise<LiveStreamRow[]> {
    const error = reason === 'node-failure' ? `node ${nodeId} stopped while the stream ran` : 'the server stopped while the stream ran';
    return this.db.query<LiveStreamRow>(
      `UPDATE live_streams SET status = 'failed', ended_at = $1, end_reason = $3, error = $4, viewers_current = 0
       WHERE status IN ('preparing', 'live') AND ($2::text IS NULL OR node_id = $2)
       RETURNING ${STREAM_COLUMNS}`,
      [at, nodeId, reason, error],
    );
  }

  // ---- chat --------------------------------------------------------------

  async addMessage(streamId: string, userId: string, displayName: string, text: string): Promise<LiveChatMessage> {
    const rows = await this.db.query<ChatRow>(
      `INSERT INTO live_chat_messages (stream_id, user_id, display_name, text) VALUES ($1, $2, $3, $4)
       RETURNING id::text AS id, user_id, display_name, text, created_at`,
      [streamId, userId, displayName, text],
    );
    return chatMessage(rows[0]);
  }

  /** The latest `limit` messages not deleted, oldest first. */
  async recentMessages(streamId: string, limit: number): Promise<LiveChatMessage[]> {
    const rows = await this.db.query<ChatRow>(
      `SELECT id::text AS id, user_id, display_name, text, created_at FROM live_chat_messages
       WHERE stream_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT $2`,
      [streamId, limit],
    );
    return rows.reverse().map(chatMessage);
  }

  async getMessage(streamId: string, messageId: string): Promise<LiveChatMessage | null> {
    const rows = await this.db.query<ChatRow>(
      `SELECT id::text AS id, user_id, display_name, text, created_at FROM live_chat_messages
       WHERE stream_id = $1 AND id = $2::bigint AND deleted_at IS NULL`,
      [streamId, messageId],
    );
    return rows[0] ? chatMessage(rows[0]) : null;
  }

  /** Marks a message deleted (and unpins it); false when there was no such message. */
  async deleteMessage(streamId: string, messageId: string, by: string | null, at: Date): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE live_chat_messages SET deleted_at = $3, deleted_by = $4
       WHERE stream_id = $1 AND id = $2::bigint AND deleted_at IS NULL RETURNING id`,
      [streamId, messageId, at, by],
    );
    if (rows.length === 0) return false;
    await this.db.query(`UPDATE live_streams SET pinned_message_id = NULL WHERE id = $1 AND pinned_message_id = $2::bigint`, [
      streamId,
      messageId,
    ]);
    return true;
  }

  async setPinned(streamId: string, messageId: string | null): Promise<void> {
    await this.db.query(`UPDATE live_streams SET pinned_message_id = $2::bigint WHERE id = $1`, [streamId, messageId]);
  }
}
