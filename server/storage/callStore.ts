// Rooms, calls and participants as rows: the only SQL the rooms domain needs.

import { randomUUID } from 'node:crypto';
import type { CallState, Role } from '../../signaling/protocol/protocol.js';
import { Batcher } from './batcher.js';
import type { Database } from './database.js';

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

/** `($1, $2, ...), ($n+1, ...)` placeholders for a multi-row statement. */
function rowsPlaceholder(rows: number, columns: number, casts: string[] = []): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < columns; c++) cells.push(`$${r * columns + c + 1}${casts[c] ?? ''}`);
    out.push(`(${cells.join(', ')})`);
  }
  return out.join(', ');
}

// Under load, a join or leave waits up to this long for others to share its statement (Batcher).
const LINGER_MS = 4;

export class CallStore {
  // Joins and leaves are the hot writes: each is grouped with its neighbours.
  private readonly joins = new Batcher<NewParticipant>((rows) => this.insertParticipants(rows), 500, 1, LINGER_MS);
  private readonly leaves = new Batcher<Leave>((rows) => this.recordLeaves(rows), 500, 1, LINGER_MS);
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

  /** The open call of the room, opening one if there is none. */
  async openCall(room: string, nodeId: string | null): Promise<CallRecord> {
    // One statement on the join path: make the room row, open a call unless one
    // is open, return the open call. (A racing node's insert loses on the unique
    // index and this returns nothing; the retry then reads the winner's call.)
    for (let attempt = 0; attempt < 3; attempt++) {
      const rows = await this.db.query<CallRecord>(
        `WITH room_row AS (INSERT INTO rooms (name) VALUES ($1) ON CONFLICT (name) DO NOTHING),
              existing AS (SELECT ${CALL_COLUMNS} FROM calls WHERE room = $1 AND status <> 'ended'),
              created AS (
                INSERT INTO calls (id, room, node_id, status)
                SELECT $2, $1, $3, 'pending' WHERE NOT EXISTS (SELECT 1 FROM existing)
                ON CONFLICT (room) WHERE status <> 'ended' DO NOTHING
                RETURNING ${CALL_COLUMNS})
         SELECT * FROM existing UNION ALL SELECT * FROM created`,
        [room, randomUUID(), nodeId],
      );
      if (rows[0]) return rows[0];
    }
    throw new Error(`could not open a call in room ${room}`);
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
