// Room control as rows: settings on `rooms`, per-user role overrides and kick
// bans (`room_users`), the raise-hand queue and the whiteboard.

import type { RaisedHand, Role, RoomSettings, WhiteboardStroke } from '../../signaling/protocol/protocol.js';
import type { Database, Queryable } from './database.js';

/** The settings of a room as stored (null columns mean "the type's template / the node default"). */
export interface StoredRoomSettings {
  type: string;
  max_participants: number | null;
  empty_timeout: number | null;
  lobby: boolean;
  recording_allowed: boolean;
  locked: boolean;
  metadata: Record<string, unknown>;
}

export interface RoomRow extends StoredRoomSettings {
  name: string;
  created_at: Date;
}

export interface RoomUserRow {
  user_id: string;
  role: Role | null;
  banned_until: Date | null;
}

export const ROOM_COLUMNS = 'name, type, max_participants, empty_timeout, lobby, recording_allowed, locked, metadata, created_at';

export class RoomControlStore {
  constructor(private readonly db: Database) {}

  async getRoom(name: string): Promise<RoomRow | null> {
    const rows = await this.db.query<RoomRow>(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE name = $1 AND deleted_at IS NULL`, [name]);
    return rows[0] ?? null;
  }

  async listRooms(limit: number): Promise<RoomRow[]> {
    return this.db.query<RoomRow>(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE deleted_at IS NULL ORDER BY created_at DESC, name LIMIT $1`, [
      limit,
    ]);
  }

  /** Creates the room with these settings; false if it exists (and is not deleted). */
  async createRoom(name: string, s: RoomSettings): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO rooms (name, type, max_participants, empty_timeout, lobby, recording_allowed, locked, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (name) DO UPDATE SET type = $2, max_participants = $3, empty_timeout = $4, lobby = $5,
         recording_allowed = $6, locked = $7, metadata = $8, deleted_at = NULL
         WHERE rooms.deleted_at IS NOT NULL
       RETURNING name`,
      [name, s.type, s.max_participants, s.empty_timeout, s.lobby, s.recording_allowed, s.locked, JSON.stringify(s.metadata)],
    );
    return rows.length > 0;
  }

  async saveSettings(name: string, s: RoomSettings): Promise<void> {
    await this.db.query(
      `UPDATE rooms SET type = $2, max_participants = $3, empty_timeout = $4, lobby = $5, recording_allowed = $6,
         locked = $7, metadata = $8 WHERE name = $1`,
      [name, s.type, s.max_participants, s.empty_timeout, s.lobby, s.recording_allowed, s.locked, JSON.stringify(s.metadata)],
    );
  }

  /** Deleting keeps the call history (billing): the row is marked and its room state dropped. */
  async deleteRoom(name: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(`UPDATE rooms SET deleted_at = now() WHERE name = $1 AND deleted_at IS NULL RETURNING name`, [name]);
      if (rows.length === 0) return false;
      await this.clearRoomState(tx, name);
      return true;
    });
  }

  /** What a room forgets when its session really ends (not on a node restart). */
  async clearRoomState(q: Queryable, name: string): Promise<void> {
    await q.query('DELETE FROM room_hands WHERE room = $1', [name]);
    await q.query('DELETE FROM whiteboard_strokes WHERE room = $1', [name]);
    await q.query('DELETE FROM room_users WHERE room = $1 AND (banned_until IS NULL OR banned_until < now())', [name]);
    await q.query('UPDATE room_users SET role = NULL WHERE room = $1', [name]);
  }

  endSession(name: string): Promise<void> {
    return this.db.transaction((tx) => this.clearRoomState(tx, name));
  }

  /** The room's most recent call (open or ended), for participant history. */
  async latestCallId(room: string): Promise<string | null> {
    const rows = await this.db.query<{ id: string }>('SELECT id FROM calls WHERE room = $1 ORDER BY created_at DESC LIMIT 1', [room]);
    return rows[0]?.id ?? null;
  }

  /** Calls ended at exactly this time for this reason (the ones a restart just closed). */
  async callsEndedAt(at: Date, reason: string): Promise<Array<{ id: string; room: string }>> {
    return this.db.query('SELECT id, room FROM calls WHERE ended_at = $1 AND end_reason = $2 ORDER BY room', [at, reason]);
  }

  async listRoomUsers(room: string): Promise<RoomUserRow[]> {
    return this.db.query<RoomUserRow>('SELECT user_id, role, banned_until FROM room_users WHERE room = $1', [room]);
  }

  async roomUser(room: string, userId: string): Promise<RoomUserRow | null> {
    const rows = await this.db.query<RoomUserRow>('SELECT user_id, role, banned_until FROM room_users WHERE room = $1 AND user_id = $2', [
      room,
      userId,
    ]);
    return rows[0] ?? null;
  }

  async setRole(room: string, userId: string, role: Role): Promise<void> {
    await this.db.query(
      `INSERT INTO room_users (room, user_id, role) VALUES ($1, $2, $3)
       ON CONFLICT (room, user_id) DO UPDATE SET role = $3`,
      [room, userId, role],
    );
  }

  async ban(room: string, userId: string, until: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO room_users (room, user_id, banned_until) VALUES ($1, $2, $3)
       ON CONFLICT (room, user_id) DO UPDATE SET banned_until = $3`,
      [room, userId, until],
    );
  }

  async listHands(room: string): Promise<RaisedHand[]> {
    const rows = await this.db.query<{ user_id: string; display_name: string; raised_at: Date }>(
      'SELECT user_id, display_name, raised_at FROM room_hands WHERE room = $1 ORDER BY seq',
      [room],
    );
    return rows.map((r) => ({
      user_id: r.user_id,
      participant_id: null,
      display_name: r.display_name,
      raised_at: r.raised_at.toISOString(),
    }));
  }

  /** Adds the user at the end of the queue; false when already in it (the place is kept). */
  async raiseHand(room: string, userId: string, displayName: string, at: Date): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO room_hands (room, user_id, display_name, raised_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (room, user_id) DO NOTHING RETURNING user_id`,
      [room, userId, displayName, at],
    );
    return rows.length > 0;
  }

  async lowerHand(room: string, userId: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM room_hands WHERE room = $1 AND user_id = $2 RETURNING user_id', [room, userId]);
    return rows.length > 0;
  }

  async listStrokes(room: string): Promise<WhiteboardStroke[]> {
    const rows = await this.db.query<{ seq: string | number; participant_id: string; user_id: string; stroke: Record<string, unknown> }>(
      'SELECT seq, participant_id, user_id, stroke FROM whiteboard_strokes WHERE room = $1 ORDER BY seq',
      [room],
    );
    return rows.map((r) => ({ stroke_id: String(r.seq), participant_id: r.participant_id, user_id: r.user_id, stroke: r.stroke }));
  }

  async addStroke(room: string, participantId: string, userId: string, stroke: Record<string, unknown>): Promise<string> {
    const rows = await this.db.query<{ seq: string | number }>(
      'INSERT INTO whiteboard_strokes (room, participant_id, user_id, stroke) VALUES ($1, $2, $3, $4) RETURNING seq',
      [room, participantId, userId, JSON.stringify(stroke)],
    );
    return String(rows[0].seq);
  }

  async clearStrokes(room: string): Promise<void> {
    await this.db.query('DELETE FROM whiteboard_strokes WHERE room = $1', [room]);
  }
}
