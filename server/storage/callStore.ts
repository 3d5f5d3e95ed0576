// Rooms, calls and participants as rows: the only SQL the rooms domain needs.

import { randomUUID } from 'node:crypto';
import type { CallState, Role, RoomType } from '../../signaling/protocol/protocol.js';
import { Batcher, STORE_LINGER_MS } from './batcher.js';
import type { Database } from './database.js';
import { ROOM_COLUMNS, type RoomRow } from './roomControlStore.js';
import { rowsPlaceholder } from './rowsPlaceholder.js';

export interface CallRecord {
  id: string;
  room: string;
  node_id: string | null;
  status: CallState;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  end_reason: string | null;
  recording: boolean;
  metadata: Record<string, unknown>;
}

export interface ParticipantRecord {
  id: string;
  call_id: string;
  user_id: string;
  display_name: string;
  role: Role;
  joined_at: Date;
  left_at: Date | null;
  leave_reason: string | null;
  client_ip: string | null;
  metadata: Record<string, unknown>;
}

export interface NewParticipant {
  id: string;
  callId: string;
  userId: string;
  displayName: string;
  role: Role;
  joinedAt: Date;
  clientIp: string | null;
  metadata: Record<string, unknown>;
}

const CALL_COLUMNS = 'id, room, node_id, status, created_at, started_at, ended_at, end_reason, recording, metadata';

/** A participant's leave or a call's end: which row, when, why. */
interface Leave {
  id: string;
  at: Date;
  reason: string;
}

// A room opening on this node, in one statement (one round trip, one
// PostgreSQL wake-up instead of six): the room's row (made if missing, revived
// with default settings if it was deleted), its open call (opened if there is
// none), and which kinds of room state have rows, so the opening reads only
// those (most rooms have none).

/** Which kinds of a room's state have rows (the chat counts for the room's open call). */
export interface StoredRoomState {
  hands: boolean;
  strokes: boolean;
  users: boolean;
  chat: boolean;
}

export interface OpenedRoom {
  room: RoomRow;
  call: CallRecord;
  stored: StoredRoomState;
}

// Data-modifying CTEs see the table as it was before the statement: `room_row`
// takes the upserted row or, when the upsert left the row alone, the one that
// was there; `call_row` the open call or the one just made. A racing node's
// call insert loses on the unique index and leaves `call_row` empty: retried.
const OPEN_ROOM_SQL = `
WITH upserted AS (
       INSERT INTO rooms (name, type) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET deleted_at = NULL, type = $2, max_participants = NULL, empty_timeout = NULL,
         lobby = false, recording_allowed = true, locked = false, metadata = '{}'
         WHERE rooms.deleted_at IS NOT NULL
       RETURNING ${ROOM_COLUMNS}),
     room_row AS (
       SELECT ${ROOM_COLUMNS} FROM upserted
       UNION ALL SELECT ${ROOM_COLUMNS} FROM rooms WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM upserted)),
     existing AS (SELECT ${CALL_COLUMNS} FROM calls WHERE room = $1 AND status <> 'ended'),
     created AS (
       INSERT INTO calls (id, room, node_id, status)
       SELECT $3, $1, $4, 'pending' WHERE NOT EXISTS (SELECT 1 FROM existing)
       ON CONFLICT (room) WHERE status <> 'ended' DO NOTHING
       RETURNING ${CALL_COLUMNS}),
     call_row AS (SELECT ${CALL_COLUMNS} FROM existing UNION ALL SELECT ${CALL_COLUMNS} FROM created)
SELECT r.*,
       c.id AS call_id, c.room AS call_room, c.node_id AS call_node_id, c.status AS call_status,
       c.created_at AS call_created_at, c.started_at AS call_started_at, c.ended_at AS call_ended_at,
       c.end_reason AS call_end_reason, c.recording AS call_recording, c.metadata AS call_metadata,
       EXISTS (SELECT 1 FROM room_hands WHERE room = $1) AS has_hands,
       EXISTS (SELECT 1 FROM whiteboard_strokes WHERE room = $1) AS has_strokes,
       EXISTS (SELECT 1 FROM room_users WHERE room = $1) AS has_users,
       EXISTS (SELECT 1 FROM room_chat_messages m JOIN existing e ON m.call_id = e.id WHERE m.deleted_at IS NULL) AS has_chat
FROM room_row r LEFT JOIN call_row c ON true`;

type OpenRoomRow = RoomRow & {
  call_id: string | null;
  call_room: string;
  call_node_id: string | null;
  call_status: CallRecord['status'];
  call_created_at: Date;
  call_started_at: Date | null;
  call_ended_at: Date | null;
  call_end_reason: string | null;
  call_recording: boolean;
  call_metadata: Record<string, unknown>;
  has_hands: boolean;
  has_strokes: boolean;
  has_users: boolean;
  has_chat: boolean;
};

export class CallStore {
  // Joins and leaves are the hot writes: each is grouped with its neighbours.
  private readonly joins = new Batcher<NewParticipant>((rows) => this.insertParticipants(rows), { lingerMs: STORE_LINGER_MS });
  private readonly leaves = new Batcher<Leave>((rows) => this.recordLeaves(rows), { lingerMs: STORE_LINGER_MS });
  private readonly activations = new Batcher<{ id: string; at: Date }>((rows) => this.activateCalls(rows));
  private readonly ends = new Batcher<Leave>((rows) => this.endCalls(rows));

  constructor(private readonly db: Database) {}

  async ensureRoom(name: string): Promise<void> {
    await this.db.query('INSERT INTO rooms (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name]);
  }

  /**
   * Opens a pending call in the room, creating the room row if needed.
   * Returns null when the room already has an open call (the unique index decides races).
   */
  async createCall(room: string, nodeId: string | null, metadata: Record<string, unknown> = {}): Promise<CallRecord | null> {
    await this.ensureRoom(room);
    const rows = await this.db.query<CallRecord>(
      `INSERT INTO calls (id, room, node_id, status, metadata) VALUES ($1, $2, $3, 'pending', $4)
       ON CONFLICT (room) WHERE status <> 'ended' DO NOTHING
       RETURNING ${CALL_COLUMNS}`,
      [randomUUID(), room, nodeId, JSON.stringify(metadata)],
    );
    return rows[0] ?? null;
  }

  /** A room opening on this node: its row, its open call (opened if none) and which of its state is stored, in one statement. */
  async openRoom(name: string, defaultType: RoomType, nodeId: string | null): Promise<OpenedRoom> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const [r] = await this.db.query<OpenRoomRow>(OPEN_ROOM_SQL, [name, defaultType, randomUUID(), nodeId]);
      if (!r || r.call_id === null) continue; // a racing node opened the call: read it again
      // The row is the room's columns, then the call's (call_*), then what is stored (has_*).
      const {
        call_id,
        call_room,
        call_node_id,
        call_status,
        call_created_at,
        call_started_at,
        call_ended_at,
        call_end_reason,
        call_recording,
        call_metadata,
        has_hands,
        has_strokes,
        has_users,
        has_chat,
        ...room
      } = r;
      return {
        room,
        call: {
          id: call_id,
          room: call_room,
          node_id: call_node_id,
          status: call_status,
          created_at: call_created_at,
          started_at: call_started_at,
          ended_at: call_ended_at,
          end_reason: call_end_reason,
          recording: call_recording,
          metadata: call_metadata,
        },
        stored: { hands: has_hands, strokes: has_strokes, users: has_users, chat: has_chat },
      };
    }
    throw new Error(`could not open a call in room ${name}`);
  }

  markCallActive(callId: string, at: Date): Promise<void> {
    return this.activations.add({ id: callId, at });
  }

  private async activateCalls(rows: Array<{ id: string; at: Date }>): Promise<void> {
    const params: unknown[] = [];
    for (const r of rows) params.push(r.id, r.at);
    await this.db.query(
      `UPDATE calls AS c SET status = 'active', started_at = COALESCE(c.started_at, v.at)
       FROM (VALUES ${rowsPlaceholder(rows.length, 2, ['::uuid', '::timestamptz'])}) AS v(id, at)
       WHERE c.id = v.id AND c.status IN ('pending', 'ringing')`,
      params,
    );
  }

  /** Ends a call and closes its open participant rows (grouped with other ends: a shutdown ends every room at once). */
  endCall(callId: string, at: Date, reason: string): Promise<void> {
    return this.ends.add({ id: callId, at, reason });
  }

  private async endCalls(rows: Leave[]): Promise<void> {
    const params: unknown[] = [];
    for (const r of rows) params.push(r.id, r.at, r.reason);
    const values = `(VALUES ${rowsPlaceholder(rows.length, 3, ['::uuid', '::timestamptz', '::text'])}) AS v(id, at, reason)`;
    await this.db.transaction(async (tx) => {
      await tx.query(
        `UPDATE calls AS c SET status = 'ended', ended_at = v.at, end_reason = v.reason
         FROM ${values} WHERE c.id = v.id AND c.status <> 'ended'`,
        params,
      );
      await tx.query(
        `UPDATE participants AS p SET left_at = v.at, leave_reason = v.reason
         FROM ${values} WHERE p.call_id = v.id AND p.left_at IS NULL`,
        params,
      );
    });
  }

  addParticipant(p: NewParticipant): Promise<void> {
    return this.joins.add(p);
  }

  participantLeft(participantId: string, at: Date, reason: string): Promise<void> {
    return this.leaves.add({ id: participantId, at, reason });
  }

  private async insertParticipants(rows: NewParticipant[]): Promise<void> {
    const params: unknown[] = [];
    for (const p of rows) {
      params.push(p.id, p.callId, p.userId, p.displayName, p.role, p.joinedAt, p.clientIp, JSON.stringify(p.metadata));
    }
    await this.db.query(
      `INSERT INTO participants (id, call_id, user_id, display_name, role, joined_at, client_ip, metadata)
       VALUES ${rowsPlaceholder(rows.length, 8)}`,
      params,
    );
  }

  private async recordLeaves(rows: Leave[]): Promise<void> {
    const params: unknown[] = [];
    for (const l of rows) params.push(l.id, l.at, l.reason);
    await this.db.query(
      `UPDATE participants AS p SET left_at = v.at, leave_reason = v.reason
       FROM (VALUES ${rowsPlaceholder(rows.length, 3, ['::text', '::timestamptz', '::text'])}) AS v(id, at, reason)
       WHERE p.id = v.id AND p.left_at IS NULL`,
      params,
    );
  }

  async getCall(callId: string): Promise<CallRecord | null> {
    const rows = await this.db.query<CallRecord>(`SELECT ${CALL_COLUMNS} FROM calls WHERE id = $1`, [callId]);
    return rows[0] ?? null;
  }

  async listParticipants(callId: string): Promise<ParticipantRecord[]> {
    return this.db.query<ParticipantRecord>(
      `SELECT id, call_id, user_id, display_name, role, joined_at, left_at, leave_reason, client_ip, metadata
       FROM participants WHERE call_id = $1 ORDER BY joined_at, id`,
      [callId],
    );
  }

  /**
   * Closes calls a crash left with people in them. Calls created ahead of time
   * (POST /calls) that nobody joined yet stay pending. With a node id, only
   * that node's calls (a cluster shares the database); without, all of them.
   */
  async closeAbandonedCalls(at: Date, nodeId: string | null, reason = 'server-restart'): Promise<number> {
    return this.db.transaction(async (tx) => {
      const calls = await tx.query<{ id: string }>(
        `UPDATE calls SET status = 'ended', ended_at = $1, end_reason = $3
         WHERE status <> 'ended' AND ($2::text IS NULL OR node_id = $2)
           AND (status = 'active' OR EXISTS (SELECT 1 FROM participants p WHERE p.call_id = calls.id AND p.left_at IS NULL))
         RETURNING id`,
        [at, nodeId, reason],
      );
      if (calls.length > 0) {
        await tx.query(
          `UPDATE participants SET left_at = $1, leave_reason = $3
           WHERE left_at IS NULL AND call_id = ANY($2::uuid[])`,
          [at, calls.map((c) => c.id), reason],
        );
      }
      return calls.length;
    });
  }

  // ---- Cluster ----

  /**
   * This node opens a room whose open call another node ran (it died, or
   * drained): the call moves here, and rows of participants still open in it
   * belong to connections that died with that node.
   */
  async takeOverCall(callId: string, nodeId: string, at: Date, reason: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.query('UPDATE calls SET node_id = $2 WHERE id = $1', [callId, nodeId]);
      const closed = await tx.query<{ id: string }>(
        'UPDATE participants SET left_at = $2, leave_reason = $3 WHERE call_id = $1 AND left_at IS NULL RETURNING id',
        [callId, at, reason],
      );
      return closed.length;
    });
  }
}
