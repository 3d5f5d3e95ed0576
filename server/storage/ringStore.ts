// Rung calls as rows: a call's type, initiator and media on its `calls` row,
// and one `call_invitees` row per user it rang (schema.sql, "Calls").

import { CALL_MAX_INVITEES, type CallMedia, type CallType, type InviteeStatus } from '../../signaling/protocol/protocol.js';
import type { Database } from './database.js';

export interface RingingCall {
  callId: string;
  room: string;
  nodeId: string;
  type: CallType;
  initiatorId: string;
  media: CallMedia;
  metadata: Record<string, unknown>;
}

export interface InviteeRow {
  call_id: string;
  user_id: string;
  invited_by: string;
  status: InviteeStatus;
  invited_at: Date;
  answered_at: Date | null;
  ended_at: Date | null;
}

/** A rung call's row, as call history shows it. */
export interface RungCallRow {
  id: string;
  room: string;
  call_type: CallType | null;
  media: CallMedia | null;
  status: string;
  end_reason: string | null;
  initiator_id: string | null;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  /** created_at to the microsecond (ISO 8601, UTC): the `before` of the next page of history. */
  cursor: string;
}

/** One stay in a call's room. */
export interface StayRow {
  call_id: string;
  user_id: string;
  joined_at: Date;
  left_at: Date | null;
}

/** Calls with everyone they rang and everyone who was in their rooms. */
export interface CallRecords {
  calls: RungCallRow[];
  invitees: InviteeRow[];
  stays: StayRow[];
}

const RUNG_COLUMNS = `id, room, call_type, media, status, end_reason, initiator_id, created_at, started_at, ended_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor`;

export class RingStore {
  constructor(private readonly db: Database) {}

  /** Opens the call of a new call room in `ringing` (its room row first). */
  async openRinging(call: RingingCall): Promise<void> {
    await this.db.transaction(async (tx) => {
      // A group call may grow to its caller plus CALL_MAX_INVITEES.
      await tx.query("INSERT INTO rooms (name, type, max_participants) VALUES ($1, 'group', $2) ON CONFLICT (name) DO NOTHING", [
        call.room,
        CALL_MAX_INVITEES + 1,
      ]);
      await tx.query(
        `INSERT INTO calls (id, room, node_id, status, call_type, initiator_id, media, metadata)
         VALUES ($1, $2, $3, 'ringing', $4, $5, $6, $7)`,
        [call.callId, call.room, call.nodeId, call.type, call.initiatorId, call.media, JSON.stringify(call.metadata)],
      );
    });
  }

  /** The node a call that is not over runs on (null: unknown or ended). */
  async nodeOf(callId: string): Promise<string | null> {
    const rows = await this.db.query<{ node_id: string | null }>("SELECT node_id FROM calls WHERE id = $1 AND status <> 'ended'", [callId]);
    return rows[0]?.node_id ?? null;
  }

  async setType(callId: string, type: CallType): Promise<void> {
    await this.db.query('UPDATE calls SET call_type = $2 WHERE id = $1', [callId, type]);
  }

  async invite(callId: string, userIds: string[], invitedBy: string, at: Date): Promise<void> {
    if (userIds.length === 0) return;
    await this.db.query(
      `INSERT INTO call_invitees (call_id, user_id, invited_by, status, invited_at)
       SELECT $1, u, $3, 'ringing', $4 FROM unnest($2::text[]) AS u
       ON CONFLICT (call_id, user_id) DO UPDATE SET status = 'ringing', invited_by = $3, invited_at = $4, answered_at = NULL, ended_at = NULL`,
      [callId, userIds, invitedBy, at],
    );
  }

  /** An invitee answered or stopped ringing. */
  async setInvitee(callId: string, userId: string, status: InviteeStatus, at: Date): Promise<void> {
    const answered = status === 'accepted' || status === 'declined';
    await this.db.query(
      `UPDATE call_invitees SET status = $3, answered_at = CASE WHEN $4 THEN $5 ELSE answered_at END, ended_at = $5
       WHERE call_id = $1 AND user_id = $2`,
      [callId, userId, status, answered, at],
    );
  }

  /** Ends a call that never got an answer (its room may never have had a second person). */
  async endCall(callId: string, reason: string, at: Date): Promise<void> {
    await this.db.query(`UPDATE calls SET status = 'ended', ended_at = $3, end_reason = $2 WHERE id = $1 AND status <> 'ended'`, [
      callId,
      reason,
      at,
    ]);
  }

  /**
   * After a crash: this node's calls still ringing end `failed`, and their
   * invitees still ringing are `missed` (nobody can answer them any more).
   */
  async failRinging(nodeId: string | null, at: Date): Promise<number> {
    return this.db.transaction(async (tx) => {
      const calls = await tx.query<{ id: string }>(
        `UPDATE calls SET status = 'ended', ended_at = $1, end_reason = 'failed'
         WHERE status = 'ringing' AND ($2::text IS NULL OR node_id = $2) RETURNING id`,
        [at, nodeId],
      );
      if (calls.length > 0) {
        await tx.query(
          `UPDATE call_invitees SET status = 'missed', ended_at = $1 WHERE status IN ('invited', 'ringing') AND call_id = ANY($2::uuid[])`,
          [at, calls.map((c) => c.id)],
        );
        await tx.query(
          `UPDATE participants SET left_at = $1, leave_reason = 'server-restart' WHERE left_at IS NULL AND call_id = ANY($2::uuid[])`,
          [at, calls.map((c) => c.id)],
        );
      }
      return calls.length;
    });
  }

  async invitees(callId: string): Promise<InviteeRow[]> {
    return this.db.query<InviteeRow>(
      `SELECT call_id, user_id, invited_by, status, invited_at, answered_at, ended_at FROM call_invitees WHERE call_id = $1 ORDER BY invited_at, user_id`,
      [callId],
    );
  }

  /**
   * Call history of a user: the calls it started or was rung for, newest
   * first, created before `before` (an ISO 8601 time) when given.
   */
  async history(userId: string, limit: number, before: string | null): Promise<CallRecords> {
    const calls = await this.db.query<RungCallRow>(
      `SELECT ${RUNG_COLUMNS} FROM calls
       WHERE id IN (SELECT id FROM calls WHERE initiator_id = $1 UNION SELECT call_id FROM call_invitees WHERE user_id = $1)
         AND ($2::timestamptz IS NULL OR created_at < $2)
       ORDER BY created_at DESC, id DESC LIMIT $3`,
      [userId, before, limit],
    );
    return this.records(calls);
  }

  /** One rung call with its invitees and stays; null when no rung call has that id. */
  async record(callId: string): Promise<CallRecords | null> {
    const calls = await this.db.query<RungCallRow>(`SELECT ${RUNG_COLUMNS} FROM calls WHERE id = $1 AND initiator_id IS NOT NULL`, [
      callId,
    ]);
    return calls.length === 0 ? null : this.records(calls);
  }

  private async records(calls: RungCallRow[]): Promise<CallRecords> {
    if (calls.length === 0) return { calls, invitees: [], stays: [] };
    const ids = calls.map((c) => c.id);
    const [invitees, stays] = await Promise.all([
      this.db.query<InviteeRow>(
        `SELECT call_id, user_id, invited_by, status, invited_at, answered_at, ended_at FROM call_invitees
         WHERE call_id = ANY($1::uuid[]) ORDER BY invited_at, user_id`,
        [ids],
      ),
      this.db.query<StayRow>(
        `SELECT call_id, user_id, joined_at, left_at FROM participants WHERE call_id = ANY($1::uuid[]) ORDER BY joined_at, id`,
        [ids],
      ),
    ]);
    return { calls, invitees, stays };
  }
}
