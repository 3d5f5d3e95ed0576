// How recordings look outside: REST bodies and webhook payloads.

import type { RecordingFileRow, RecordingRow } from '../../storage/recordingStore.js';

export function fileJson(f: RecordingFileRow) {
  return {
    file_id: f.id,
    kind: f.kind,
    participant_id: f.participant_id,
    user_id: f.user_id,
    seq: f.seq,
    status: f.status,
    name: f.key,
    content_type: f.content_type,
    tracks: f.tracks,
    size_bytes: f.size_bytes,
    duration_seconds: f.duration_seconds,
    started_at: f.started_at,
    ended_at: f.ended_at,
    error: f.error,
    streams: (f.probe as { streams?: unknown[] } | null)?.streams ?? null,
  };
}

export function recordingJson(r: RecordingRow, files?: RecordingFileRow[]) {
  return {
    recording_id: r.id,
    room: r.room,
    call_id: r.call_id,
    mode: r.mode,
    status: r.status,
    started_by: r.started_by,
    started_at: r.started_at,
    ended_at: r.ended_at,
    end_reason: r.end_reason,
    error: r.error,
    storage: r.storage,
    location: r.location,
    size_bytes: r.size_bytes,
    duration_seconds: r.duration_seconds,
    access: r.access,
    retention_days: r.retention_days,
    expires_at: r.expires_at,
    metadata: r.metadata,
    ...(files ? { files: files.map(fileJson) } : {}),
  };
}
