// Stored recordings: list, fetch, download links, access, delete, and the
// retention job that deletes expired recordings (files first, then rows).

import type { Logger } from '../../kernel/logger.js';
import { AppError } from '../../kernel/errors.js';
import { isStaff } from '../rooms/permissions.js';
import type { Identity } from '../../../signaling/protocol/protocol.js';
import type { DownloadSigner } from './downloadTokens.js';
import type { RecordingFileRow, RecordingRow, RecordingStatus, RecordingStore } from '../../storage/recordingStore.js';
import type { RecordingStorage } from '../../storage/recordingFiles.js';

/** A recording or file id; anything else cannot name one (and must not reach a uuid column, where it is a data error). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DownloadLink {
  url: string;
  expires_at: string;
}

export class RecordingLibrary {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly store: RecordingStore,
    private readonly storage: RecordingStorage,
    private readonly signer: DownloadSigner,
    private readonly log: Logger,
    /**
     * Nodes sharing one PostgreSQL (a cluster): local files are on the disk of
     * the node that made them, so only that node deletes them when they expire.
     * Null (PGlite): this node made every recording.
     */
    private readonly localNodeId: string | null = null,
  ) {}

  async get(id: string): Promise<{ recording: RecordingRow; files: RecordingFileRow[] }> {
    if (!UUID.test(id)) throw new AppError('not_found', `no recording ${id.slice(0, 64)}`);
    const recording = await this.store.get(id);
    if (!recording) throw new AppError('not_found', `no recording ${id}`);
    return { recording, files: await this.store.files(id) };
  }

  list(opts: { room?: string; status?: RecordingStatus; limit: number; before?: Date }): Promise<RecordingRow[]> {
    return this.store.list(opts);
  }

  async file(recordingId: string, fileId: string): Promise<{ recording: RecordingRow; file: RecordingFileRow }> {
    const { recording } = await this.get(recordingId);
    const file = UUID.test(fileId) ? await this.store.getFile(recordingId, fileId) : null;
    if (!file) throw new AppError('not_found', `recording ${recordingId} has no file ${fileId.slice(0, 64)}`);
    return { recording, file };
  }

  /**
   * A link that downloads the file until it expires: the object store's
   * presigned URL (S3), or this server's signed URL (`base` + path + query).
   */
  async downloadLink(recordingId: string, fileId: string, ttlSeconds: number, base: string): Promise<DownloadLink> {
    const { recording, file } = await this.file(recordingId, fileId);
    return this.linkTo(recording, file, ttlSeconds, base);
  }

  /** downloadLink for rows the caller has already read. */
  async linkTo(recording: RecordingRow, file: RecordingFileRow, ttlSeconds: number, base: string): Promise<DownloadLink> {
    const fileId = file.id;
    const recordingId = recording.id;
    if (recording.status === 'recording' || file.status === 'recording' || file.status === 'processing') {
      throw new AppError('conflict', `file ${fileId} is still being recorded`);
    }
    const expires = Math.floor(Date.now() / 1000) + ttlSeconds;
    const name = `${recording.room}-${recording.id.slice(0, 8)}-${file.key}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    const presigned =
      recording.storage === this.storage.kind
        ? await this.storage.presignedUrl(recordingId, file.key, ttlSeconds, name).catch((err: Error) => {
            throw new AppError('unavailable', `the recording storage could not sign a URL: ${err.message}`);
          })
        : null;
    const url =
      presigned ?? `${base}/api/v1/recordings/${recordingId}/files/${fileId}/content?${this.signer.query(recordingId, fileId, expires)}`;
    return { url, expires_at: new Date(expires * 1000).toISOString() };
  }

  /** May this participant token fetch the recording? (Users named in its access, or room staff when allowed.) */
  mayAccess(recording: RecordingRow, identity: Identity): boolean {
    if (recording.access.users.includes(identity.user_id)) return true;
    return recording.access.room_staff && isStaff(identity.role) && (identity.room === null || identity.room === recording.room);
  }

  /** Where the file's bytes are read from: the storage the recording was made with. */
  private storageOf(recording: RecordingRow): RecordingStorage {
    if (recording.storage !== this.storage.kind) {
      throw new AppError(
        'unavailable',
        `recording ${recording.id} is in ${recording.storage} storage, which this server is not configured for`,
      );
    }
    return this.storage;
  }

  size(recording: RecordingRow, file: RecordingFileRow): Promise<number> {
    return this.storageOf(recording).size(recording.id, file.key);
  }

  open(recording: RecordingRow, file: RecordingFileRow, range?: { start: number; end: number }) {
    return this.storageOf(recording).open(recording.id, file.key, range);
  }

  async update(id: string, patch: Parameters<RecordingStore['update']>[1]): Promise<RecordingRow> {
    const row = await this.store.update(id, patch);
    if (!row) throw new AppError('not_found', `no recording ${id}`);
    return row;
  }

  /** Deletes files, then the rows. A recording in progress must be stopped first. */
  async delete(id: string): Promise<void> {
    const { recording, files } = await this.get(id);
    if (recording.status === 'recording') throw new AppError('conflict', `recording ${id} is in progress; stop it first`);
    await this.removeFiles(recording, files);
    await this.store.delete(id);
  }

  private async removeFiles(recording: RecordingRow, files: RecordingFileRow[]): Promise<void> {
    try {
      await this.storage.deleteRecording(
        recording.id,
        files.map((f) => f.key),
      );
    } catch (err) {
      throw new AppError('unavailable', (err as Error).message);
    }
  }

  /** Deletes every expired recording (files, then rows); returns how many. Failures are retried next run. */
  cleanupExpired(now = new Date()): Promise<number> {
    this.running ??= (async () => {
      let deleted = 0;
      for (;;) {
        const batch = await this.store.expired(now, 100, this.localNodeId);
        if (batch.length === 0) break;
        let progressed = false;
        for (const recording of batch) {
          try {
            await this.removeFiles(recording, await this.store.files(recording.id));
            await this.store.delete(recording.id);
            deleted++;
            progressed = true;
          } catch (err) {
            this.log.warn({ err, recording: recording.id }, 'could not delete an expired recording; will retry');
          }
        }
        if (!progressed) break;
      }
      if (deleted > 0) this.log.info({ deleted }, 'expired recordings deleted');
      return deleted;
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  startCleanup(intervalSeconds: number): void {
    if (this.timer) return;
    const run = () => void this.cleanupExpired().catch((err) => this.log.error({ err }, 'recording cleanup failed'));
    run();
    this.timer = setInterval(run, intervalSeconds * 1000);
    this.timer.unref();
  }

  async stopCleanup(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => {}); // a sweep reports its own failures; stop only waits for it
  }
}
