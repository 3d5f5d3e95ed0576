// Recordings and their files as rows (schema.sql, "Recording").

import type { RecordingMode, TrackInfo } from '../kernel/media.js';
import type { Database } from './database.js';

export type { RecordingMode, TrackInfo };

export type RecordingStatus = 'recording' | 'processing' | 'ready' | 'failed';

export interface RecordingAccess {
  /** User ids who may fetch it with their participant token (besides the API key). */
  users: string[];
  /** Whether the room's hosts and moderators may. */
  room_staff: boolean;
}

export interface RecordingRow {
  id: string;
  room: string;
  call_id: string | null;
  node_id: string | null;
  mode: RecordingMode;
  status: RecordingStatus;
  started_by: string | null;
  started_at: Date;
  ended_at: Date | null;
  end_reason: string | null;
  error: string | null;
  storage: 'local' | 's3';
  location: string;
  size_bytes: number;
  duration_seconds: number | null;
  access: RecordingAccess;
  retention_days: number | null;
  expires_at: Date | null;
  metadata: Record<string, unknown>;
}

export interface RecordingFileRow {
  id: string;
  recording_id: string;
  kind: 'participant' | 'composite';
  participant_id: string | null;
  user_id: string | null;
  seq: number;
  status: RecordingStatus;
  key: string;
  content_type: string;
  tracks: TrackInfo[];
  size_bytes: number;
  duration_seconds: number | null;
  probe: unknown;
  started_at: Date;
  ended_at: Date | null;
  error: string | null;
}

const REC =
  'id, room, call_id, node_id, mode, status, started_by, started_at, ended_at, end_reason, error, storage, location, size_bytes, duration_seconds, access, retention_days, expires_at, metadata';
const FILE =
  'id, recording_id, kind, participant_id, user_id, seq, status, key, content_type, tracks, size_bytes, duration_seconds, probe, started_at, ended_at, error';

function rec(row: RecordingRow): RecordingRow {
  return { ...row, size_bytes: Number(row.size_bytes) };
}
function file(row: RecordingFileRow): RecordingFileRow {
  return { ...row, size_bytes: Number(row.size_bytes) };
}

export class RecordingStore {
  constructor(private readonly db: Database) {}

  /**
   * Inserts a recording in status `recording` and marks its call as recorded
   * (`calls.recording`), in one statement; null when the room already has one in progress.
   */
  async create(
    r: Pick<
      RecordingRow,
      'id' | 'room' | 'call_id' | 'node_id' | 'mode' | 'started_by' | 'storage' | 'location' | 'access' | 'retention_days' | 'metadata'
    >,
  ): Promise<RecordingRow | null> {
    const rows = await this.db.query<RecordingRow>(
      `WITH inserted AS (
         INSERT INTO recordings (id, room, call_id, node_id, mode, status, started_by, storage, location, access, retention_days, metadata)
         VALUES ($1, $2, $3, $4, $5, 'recording', $6, $7, $8, $9, $10, $11)
         ON CONFLICT DO NOTHING RETURNING ${REC}
       ), marked AS (
         UPDATE calls SET recording = true WHERE id = (SELECT call_id FROM inserted) AND NOT recording
       )
       SELECT * FROM inserted`,
      [
        r.id,
        r.room,
        r.call_id,
        r.node_id,
        r.mode,
        r.started_by,
        r.storage,
        r.location,
        JSON.stringify(r.access),
        r.retention_days,
        JSON.stringify(r.metadata),
      ],
    );
    return rows[0] ? rec(rows[0]) : null;
  }

  async get(id: string): Promise<RecordingRow | null> {
    const rows = await this.db.query<RecordingRow>(`SELECT ${REC} FROM recordings WHERE id = $1`, [id]);
    return rows[0] ? rec(rows[0]) : null;
  }

  async list(opts: { room?: string; status?: RecordingStatus; limit: number; before?: Date }): Promise<RecordingRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (opts.room) where.push(`room = $${params.push(opts.room)}`);
    if (opts.status) where.push(`status = $${params.push(opts.status)}`);
    if (opts.before) where.push(`started_at < $${params.push(opts.before)}`);
    params.push(opts.limit);
    const rows = await this.db.query<RecordingRow>(
      `SELECT ${REC} FROM recordings ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id LIMIT $${params.length}`,
      params,
    );
    return rows.map(rec);
  }

  /** recording -> processing (the files are being finalized); false if it was not recording. */
  async markProcessing(id: string, endedAt: Date, reason: string): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE recordings SET status = 'processing', ended_at = $2, end_reason = $3 WHERE id = $1 AND status = 'recording' RETURNING id`,
      [id, endedAt, reason],
    );
    return rows.length > 0;
  }

  /** The final state: ready or failed, with totals and the expiry its retention gives. */
  /** With `onlyOpen`, only a row still recording or processing changes (null otherwise). */
  async finish(
    id: string,
    f: {
      status: 'ready' | 'failed';
      error: string | null;
      endedAt: Date;
      reason: string;
      size: number;
      duration: number | null;
      location?: string;
    },
    opts: { onlyOpen?: boolean } = {},
  ): Promise<RecordingRow | null> {
    const rows = await this.db.query<RecordingRow>(
      `UPDATE recordings SET status = $2, error = $3, ended_at = COALESCE(ended_at, $4), end_reason = COALESCE(end_reason, $5),
         size_bytes = $6, duration_seconds = $7, location = COALESCE($8, location),
         expires_at = CASE WHEN retention_days IS NULL THEN NULL ELSE COALESCE(ended_at, $4) + make_interval(days => retention_days) END
       WHERE id = $1 ${opts.onlyOpen ? "AND status IN ('recording', 'processing')" : ''} RETURNING ${REC}`,
      [id, f.status, f.error, f.endedAt, f.reason, f.size, f.duration, f.location ?? null],
    );
    return rows[0] ? rec(rows[0]) : null;
  }

  /** Sets retention (days from the end, or from now while it records) and/or access. */
  async update(
    id: string,
    patch: { retention_days?: number | null; access?: RecordingAccess; expires_at?: Date | null },
  ): Promise<RecordingRow | null> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    if (patch.retention_days !== undefined) {
      sets.push(`retention_days = $${params.push(patch.retention_days)}`);
      sets.push(
        `expires_at = CASE WHEN $${params.length}::integer IS NULL THEN NULL ELSE COALESCE(ended_at, now()) + make_interval(days => $${params.length}::integer) END`,
      );
    }
    if (patch.expires_at !== undefined) sets.push(`expires_at = $${params.push(patch.expires_at)}`);
    if (patch.access !== undefined) sets.push(`access = $${params.push(JSON.stringify(patch.access))}`);
    if (sets.length === 0) return this.get(id);
    const rows = await this.db.query<RecordingRow>(`UPDATE recordings SET ${sets.join(', ')} WHERE id = $1 RETURNING ${REC}`, params);
    return rows[0] ? rec(rows[0]) : null;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM recordings WHERE id = $1 RETURNING id', [id])).length > 0;
  }

  /** Recordings past their expiry (not ones still recording). */
  /** With `localNodeId`, recordings stored on local disks are only those of that node (the others' files are not here). */
  async expired(now: Date, limit: number, localNodeId: string | null = null): Promise<RecordingRow[]> {
    const rows = await this.db.query<RecordingRow>(
      `SELECT ${REC} FROM recordings WHERE expires_at IS NOT NULL AND expires_at <= $1 AND status IN ('ready', 'failed')
         AND ($3::text IS NULL OR storage <> 'local' OR node_id = $3) ORDER BY expires_at LIMIT $2`,
      [now, limit, localNodeId],
    );
    return rows.map(rec);
  }

  /** Recordings left in recording/processing by `nodeId` (all with null): a crashed run's, or a dead node's. */
  async abandoned(nodeId: string | null): Promise<RecordingRow[]> {
    const rows = await this.db.query<RecordingRow>(
      `SELECT ${REC} FROM recordings WHERE status IN ('recording', 'processing') ${nodeId ? 'AND node_id = $1' : ''}`,
      nodeId ? [nodeId] : [],
    );
    return rows.map(rec);
  }

  async addFile(
    f: Pick<
      RecordingFileRow,
      'id' | 'recording_id' | 'kind' | 'participant_id' | 'user_id' | 'seq' | 'key' | 'content_type' | 'tracks' | 'started_at'
    >,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO recording_files (id, recording_id, kind, participant_id, user_id, seq, status, key, content_type, tracks, started_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'recording', $7, $8, $9, $10)`,
      [f.id, f.recording_id, f.kind, f.participant_id, f.user_id, f.seq, f.key, f.content_type, JSON.stringify(f.tracks), f.started_at],
    );
  }

  async finishFile(
    id: string,
    f: { status: RecordingStatus; size: number; duration: number | null; probe: unknown; endedAt: Date | null; error: string | null },
  ): Promise<void> {
    await this.db.query(
      `UPDATE recording_files SET status = $2, size_bytes = $3, duration_seconds = $4, probe = $5, ended_at = COALESCE(ended_at, $6), error = COALESCE($7, error) WHERE id = $1`,
      [id, f.status, f.size, f.duration, f.probe === null ? null : JSON.stringify(f.probe), f.endedAt, f.error],
    );
  }

  async endFile(id: string, endedAt: Date, error: string | null): Promise<void> {
    await this.db.query(
      `UPDATE recording_files SET ended_at = $2, error = COALESCE($3, error), status = CASE WHEN $3::text IS NULL THEN 'processing' ELSE 'failed' END WHERE id = $1 AND ended_at IS NULL`,
      [id, endedAt, error],
    );
  }

  async files(recordingId: string): Promise<RecordingFileRow[]> {
    const rows = await this.db.query<RecordingFileRow>(
      `SELECT ${FILE} FROM recording_files WHERE recording_id = $1 ORDER BY started_at, seq, id`,
      [recordingId],
    );
    return rows.map(file);
  }

  async getFile(recordingId: string, fileId: string): Promise<RecordingFileRow | null> {
    const rows = await this.db.query<RecordingFileRow>(`SELECT ${FILE} FROM recording_files WHERE recording_id = $1 AND id = $2`, [
      recordingId,
      fileId,
    ]);
    return rows[0] ? file(rows[0]) : null;
  }
}
