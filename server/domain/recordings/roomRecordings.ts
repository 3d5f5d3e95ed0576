// The room's recordings as its staff see them over the WebSocket
// (`list-recordings`): what was recorded in the room they are in, newest
// first, each file with a signed download link. The REST API (API key) sees
// every room's; this is for the app's own hosts and moderators.

import { AppError } from '../../kernel/errors.js';
import type { RoomRecording, RoomRecordingFile } from '../../../signaling/protocol/protocol.js';
import type { Participant } from '../rooms/participant.js';
import { assertAllowed } from '../rooms/permissions.js';
import type { RoomService } from '../rooms/roomService.js';
import type { RecordingFileRow, RecordingRow } from '../../storage/recordingStore.js';
import type { RecordingLibrary } from './recordingLibrary.js';

export class RoomRecordings {
  constructor(
    private readonly rooms: RoomService,
    private readonly library: RecordingLibrary,
    /** Lifetime of the download links (RECORDING_DOWNLOAD_URL_TTL_SECONDS). */
    private readonly ttlSeconds: number,
  ) {}

  /**
   * The recordings of p's room that p may fetch (the room's staff, unless a
   * recording's access says otherwise, and the users it names). Links to
   * local files are paths on this server (`/api/v1/recordings/...`); S3 ones
   * are the object store's presigned URLs.
   */
  async listBy(p: Participant, limit: number): Promise<{ recordings: RoomRecording[]; urls_expire_at: string }> {
    const room = this.rooms.roomOf(p);
    assertAllowed(p.identity.role, 'record', room.settings.type);
    const rows = await this.library.list({ room: room.name, limit }).catch((err: Error) => {
      throw new AppError('unavailable', `could not read the room's recordings: ${err.message}`);
    });
    const mine = rows.filter((r) => r.access.room_staff || r.access.users.includes(p.identity.userId));
    const recordings = await Promise.all(mine.map((r) => this.summary(r)));
    return { recordings, urls_expire_at: new Date((Math.floor(Date.now() / 1000) + this.ttlSeconds) * 1000).toISOString() };
  }

  private async summary(r: RecordingRow): Promise<RoomRecording> {
    const { files } = await this.library.get(r.id);
    return {
      recording_id: r.id,
      mode: r.mode,
      status: r.status,
      started_by: r.started_by,
      started_at: r.started_at.toISOString(),
      ended_at: r.ended_at?.toISOString() ?? null,
      end_reason: r.end_reason,
      duration_seconds: r.duration_seconds,
      size_bytes: r.size_bytes,
      files: await Promise.all(files.map((f) => this.file(r, f))),
    };
  }

  private async file(r: RecordingRow, f: RecordingFileRow): Promise<RoomRecordingFile> {
    const downloadable = r.status !== 'recording' && (f.status === 'ready' || f.status === 'failed') && f.size_bytes > 0;
    const link = downloadable ? await this.library.linkTo(r, f, this.ttlSeconds, '').catch(() => null) : null;
    return {
      file_id: f.id,
      name: f.key,
      user_id: f.user_id,
      content_type: f.content_type,
      size_bytes: f.size_bytes,
      duration_seconds: f.duration_seconds,
      status: f.status,
      download_url: link?.url ?? null,
    };
  }
}
